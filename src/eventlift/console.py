"""What the CLI shows: rich progress bars and the end-of-run summary tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from eventlift.demo import DemoResult
    from eventlift.pipeline import RunResult

__all__ = ["RichProgress", "demo_table", "run_table"]


class RichProgress:
    """Implements :class:`eventlift.progress.Progress` with rich progress bars."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
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
        self.console.print(f"[dim]{message}[/]", highlight=False)


def _number(value: object) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return str(value)


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
        ("best epoch", str(result.metrics["best_epoch"])),
        ("likely leaks", ", ".join(f["event"] for f in result.leakage) or "none"),
    ]
    top = result.tables["event_type"].sort_values("lift", ascending=False).head(top_n)
    rows += [
        (f"top {rank}: {row.event}", f"lift {row.lift:+.4f}")
        for rank, row in enumerate(top.itertuples(), start=1)
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


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
