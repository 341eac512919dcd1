"""What the CLI shows: rich progress bars and the end-of-run summary tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    import pandas as pd

    from eventlift.workflow.demo import DemoResult
    from eventlift.workflow.result import RunResult

__all__ = ["RichProgress", "demo_table", "method_recovery_table", "run_notes", "run_table"]


class RichProgress:
    """Implements :class:`eventlift.core.progress.Progress` with rich progress bars."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self.console.is_terminal:  # a log file gets the notes, not bars redrawn as blanks
            yield lambda n=1: None
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as bar:
            task_id = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task_id, n)

    def note(self, message: str) -> None:
        self.console.print(f"[dim]{escape(message)}[/]", highlight=False)  # "[columns]" is text


def _number(value: object, spec: str = ".3f") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if math.isnan(value) else format(value, spec)
    return str(value)


def _capacity_rows(capacity: dict) -> list[tuple[str, str]]:
    """How the model was sized: models averaged, dropout and weight decay (when recorded)."""
    if not capacity:
        return []
    return [
        (
            "models averaged",
            f"{capacity['members']} (dropout {capacity['dropout']:g}, "
            f"weight decay {capacity['weight_decay']:g})",
        )
    ]


def _session_end_rows(entry: dict) -> list[tuple[str, str]]:
    """What session length and the last event alone predict; the warnings say when it leaks."""
    if not entry:
        return []
    side = "shorter" if entry["converted_shorter"] else "longer"
    return [
        (
            "length / last-event AUC",
            f"{_number(entry['length_auc'])} (converted {side}) / "
            f"{_number(entry['last_event_auc'])}",
        )
    ]


def run_table(result: RunResult, top_n: int = 5) -> Table:
    """Metrics and the top events by lift for one mode."""
    counts = result.summary["counts"]
    table = Table(title=f"eventlift run: {result.mode}", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("sessions (converted)", f"{counts['sessions']:,} ({counts['converted_sessions']:,})"),
        ("test AUC", _number(result.metrics["test_auc"])),
        ("test PR AUC", _number(result.metrics["test_pr_auc"])),
        ("logistic baseline AUC", _number(result.baselines["logistic"]["test_auc"])),
        ("LightGBM baseline AUC", _number(result.baselines["lightgbm"]["test_auc"])),
        *_verdict_rows(result.summary.get("baseline_verdict") or {}),
        ("best epoch", str(result.metrics["best_epoch"])),
        *_capacity_rows(result.summary.get("capacity") or {}),
        ("likely leaks", ", ".join(f["event"] for f in result.leakage) or "none"),
        *_session_end_rows(result.summary.get("session_end") or {}),
    ]
    stability = result.summary.get("seed_stability")
    if stability:
        rows.append(
            (
                f"seed stability ({len(stability['seeds'])} seeds)",
                f"Spearman mean {_number(stability['mean_spearman'])}, "
                f"min {_number(stability['min_spearman'])}",
            )
        )
    top = result.tables["event_type"].sort_values("lift", ascending=False).head(top_n)
    rows += [
        (f"top {rank}: {row.event}", f"lift {row.lift:+.4f}")
        for rank, row in enumerate(top.itertuples(), start=1)
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _verdict_rows(verdict: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The paired difference with the validation-chosen baseline, as one table row."""
    difference = verdict.get("difference")
    if verdict.get("baseline") is None or difference is None or math.isnan(difference):
        return []
    low, high = verdict["ci_low"], verdict["ci_high"]
    interval = "no interval" if math.isnan(low) else f"[{low:+.3f}, {high:+.3f}]"
    return [(f"AUC vs {verdict['baseline']} (chosen)", f"{difference:+.3f} {interval}")]


def run_notes(summary: Mapping[str, Any]) -> list[Text]:
    """A run summary's warnings and left-out tables, one line each, as the report shows them."""
    lines = [
        Text.assemble(("warning: ", "bold yellow"), warning["message"])
        for warning in summary.get("warnings", [])
    ]
    lines += [
        Text.assemble((f"left out {stem}: ", "bold"), why)
        for stem, why in summary.get("skipped_outputs", {}).items()
    ]
    return lines


def demo_table(demo: DemoResult) -> Table:
    """AUC per mode beside the oracle and the baselines."""
    table = Table(title="eventlift demo", show_header=True)
    table.add_column("mode")
    for column in ("test AUC", "oracle AUC", "logistic", "LightGBM", "best epoch"):
        table.add_column(column, justify="right")
    for row in demo.summary_rows():
        table.add_row(
            row["mode"],
            _number(row["test_auc"]),
            _number(row["oracle_auc"]),
            _number(row["logistic_auc"]),
            _number(row["lightgbm_auc"]),
            str(row["best_epoch"]),
        )
    return table


def method_recovery_table(frame: pd.DataFrame) -> Table:
    """Each method's recovery of the planted truth, as ``evaluate_methods`` scores it."""
    sessions = int(frame["sessions"].iloc[0]) if len(frame) else 0
    table = Table(title=f"attribution methods vs the planted truth ({sessions:,} test sessions)")
    table.add_column("method", no_wrap=True)
    headers = ("rho", "store", "top5", "r", "signs", "AOPC×", "IG gap%", "sess/s")
    for header in headers:
        table.add_column(header, justify="right")
    rules = frame[frame["kind"] == "multitouch"]
    for row in frame[frame["kind"] != "multitouch"].to_dict("records"):
        rank = row["best_store_rank"]
        table.add_row(
            row["method"],
            _number(row["event_spearman"], ".2f"),
            "–"
            if rank is None or math.isnan(rank)
            else f"{int(rank)}/{int(row['supported_stores'])}",
            _number(row["store_top5_overlap"], ".1f"),
            _number(row["contribution_r"], ".2f"),
            f"{int(row['signs_agree'])}/{int(row['signs_checked'])}",
            _number(row["aopc_ratio"], ".1f") + (" !" if row["faithfulness_flagged"] else ""),
            _number(row["completeness_gap_pct"], ".1g"),
            _number(row["sessions_per_second"], ",.0f"),
        )
    if len(rules):
        table.add_section()
        for row in rules.to_dict("records"):
            table.add_row(row["method"], _number(row["event_spearman"], ".2f"))
    table.caption = (
        "rho: Spearman of event-type lift with the planted effects (below the line: multi-touch "
        "rules). store: rank of the planted best store by lift / supported stores. top5: overlap "
        "of the top-5 planted and lifted stores. r: per-session correlation with the true "
        "contributions. signs: mean signed score on the planted side / checked. AOPC×: deletion "
        "AOPC over random orders (! flagged)."
    )
    return table
