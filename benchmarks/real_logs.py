"""Logs of the shapes users bring, each taken from `eventlift init` to both modes untouched.

    python benchmarks/real_logs.py [--logs a,b] [--sessions 4000] [--seed 0] [--out DIR]
                                   [--timeout 300] [--splits 5]

Every log is written to its own folder under ``--out`` (a temporary folder by default), then run as
a new user would run it: ``eventlift init DATA`` proposes a config, and ``eventlift compare`` runs
that config as written (``no_funnel`` and ``with_funnel``, the comparison and the report), each in
a child process, the way the command line runs it. The logs:

- ``otto``: the 20 real OTTO users of ``../shared/data/otto-sample.jsonl`` (nested JSON lines,
  epoch milliseconds, no session id), read in place. Its 143 derived sessions hold a handful of
  orders: too few to train on, so its AUCs are noise; the row shows that a real export goes from
  ``init`` through both modes and the report unaided;
- ``demo`` and the generator's named shapes (:data:`eventlift.data.synthetic.VARIANTS`): short
  sessions, few event types, one event type, rare conversions, partial funnels, strong store
  effects, strong order effects, no stores;
- the demo's shape written as awkward exports (:func:`eventlift.data.exports.write_export`): zone
  names after the time with a cut last line, ``;`` with a BOM and CRLF gzipped, a folder of
  gzipped parts given as a glob, float ids, numeric event codes, epoch microseconds, no session
  id, no store column.

Each log then gets ``--splits`` user-grouped splits in all: the compare run's, and ``no_funnel``
runs of the same config with ``[train] seed`` = seed+1, seed+2, ... (the seed draws the split by
user and the model's start). Per split the run summary's ``baseline_verdict`` gives the
Transformer's and the validation-chosen baseline's test AUC; the row holds the paired
difference's mean over the splits and its one-sided 95 % lower bound (Student's t), the
per-split AUCs go to ``real_logs.json``. Each log is marked ``tune`` (the defaults were tuned on
it: the demo's shape, its awkward exports, and the variants the baselines were tuned on) or
``judge`` (kept apart: judge defaults on these).

One row per log (:data:`COLUMNS`, later columns go there too): sessions, converting sessions and
the conversion rate as the ``no_funnel`` run counted them (read back from the input when the run
stopped before counting), converting sessions in the test split, test ROC AUC of the Transformer
and of both baselines in each mode, the events the leakage probe named in each mode, the seconds
of ``init`` and ``compare`` together, and the status: ``ok`` (with a warning below 100 converting
sessions), or the first line of the error (``error:`` for eventlift's own messages, ``crash:``
for an uncaught exception, with its type), after the command that failed. A failing log never
stops the others. The table is printed aligned, then as Markdown; with ``--out`` the folder keeps
every log, config, console output and run, and the rows as ``real_logs.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from real_log_cases import CASES, LogCase, Stopped

from eventlift.config import MODES, Config, load_config
from eventlift.data.readers import read_events
from eventlift.data.sessions import build_sessions

CONFIG_NAME = "eventlift.toml"
MODELS = ("transformer", "logistic", "lightgbm")
COLUMNS = (
    "log",
    "role",
    "shape",
    "sessions",
    "converted",
    "conversion_rate",
    "test_converted",
    *(f"{model}_{mode}" for mode in MODES for model in MODELS),
    *(f"leaks_{mode}" for mode in MODES),
    "baseline",
    "paired_mean",
    "paired_lower",
    "seconds",
    "status",
)
# Short headers for the printed tables (the rows keep the names of COLUMNS).
HEADERS = {
    "conversion_rate": "conv.",
    "test_converted": "test conv.",
    **{f"{model}_{mode}": f"{short} {mode}" for mode in MODES
       for model, short in zip(MODELS, ("TF", "LR", "GBM"), strict=True)},
    "paired_mean": "TF-base mean",
    "paired_lower": "TF-base 95% low",
    "seconds": "s",
}  # fmt: skip
FEW_CONVERSIONS = 100  # below this many converting sessions AUCs and intervals are mostly noise
STATUS_WIDTH = 160  # the printed tables cut longer statuses; real_logs.json keeps them whole


def cli(args: list[str], folder: Path, log: str, timeout: float) -> None:
    """Run ``eventlift ARGS`` in ``folder``; keep its output in ``folder/log``; raise on failure."""
    command = [sys.executable, "-m", "eventlift.cli", *args]
    try:
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise Stopped(f"{args[0]}: timed out after {timeout:.0f}s") from None
    (folder / log).write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode:
        raise Stopped(f"{args[0]} {first_error_line(done.stderr)}")


def first_error_line(stderr: str) -> str:
    """eventlift's ``error:`` line, else the exception line of a traceback, as ``crash: ...``."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        handled = re.match(r"(?:\[bold red\])?error:(?:\[/\])?\s*(.*)", line)
        if handled:
            return f"error: {handled.group(1)}"
    return f"crash: {lines[-1]}" if lines else "crash: no message"


def propose_config(data: str, folder: Path, timeout: float) -> Path:
    """``eventlift init DATA``: the config a new user would start from, written in ``folder``."""
    cli(["init", data, "--out", CONFIG_NAME], folder, "init.log", timeout)
    return folder / CONFIG_NAME


def read_back(config: Config) -> dict[str, Any]:
    """Sessions and conversion rate from the input itself, for a run that stopped before them."""
    frame = read_events(None, config, compact=True)
    data = build_sessions(frame, config.sessions, config.columns, mode="no_funnel")
    converted = int(data.sessions["converted"].sum())
    return {
        "sessions": len(data.sessions),
        "converted": converted,
        "conversion_rate": converted / len(data.sessions),
    }


def run_figures(config: Config) -> dict[str, Any]:
    """The row's figures from the run summaries each mode wrote (a mode without one is blank)."""
    figures: dict[str, Any] = {}
    for mode in MODES:
        path = Path(config.output.dir) / "outputs" / f"run_summary_{mode}.json"
        if not path.is_file():
            continue
        summary = json.loads(path.read_text(encoding="utf-8"))
        figures[f"transformer_{mode}"] = summary["metrics"]["test_auc"]
        for model in MODELS[1:]:
            figures[f"{model}_{mode}"] = summary["baselines"][model]["test_auc"]
        figures[f"leaks_{mode}"] = ", ".join(r["event"] for r in summary["leakage"]) or "none"
        if mode == "no_funnel":
            splits = summary["counts"]["sessions_by_split"]
            sessions = sum(s["sessions"] for s in splits.values())
            converted = sum(s["converted"] for s in splits.values())
            figures["sessions"], figures["converted"] = sessions, converted
            figures["conversion_rate"] = converted / sessions
            figures["test_converted"] = splits.get("test", {}).get("converted", 0)
    return figures


def split_config(folder: Path, seed: int) -> str:
    """The proposed config with ``[train] seed`` (which draws the user-grouped split and the
    model's start) and its own output folder, as ``eventlift.seed<N>.toml``; its file name."""
    text = (folder / CONFIG_NAME).read_text(encoding="utf-8")
    text, found = re.subn(r'(?m)^dir = "[^"]*"$', f'dir = "split_seed{seed}"', text)
    if not found:
        raise Stopped(f"{CONFIG_NAME} names no [output] dir to give the split seed {seed} its own")
    if re.search(r"(?m)^\[train\]$", text):
        text = re.sub(r"(?m)^\[train\]$", f"[train]\nseed = {seed}", text, count=1)
    else:
        text += f"\n[train]\nseed = {seed}\n"
    name = f"eventlift.seed{seed}.toml"
    (folder / name).write_text(text, encoding="utf-8")
    return name


def split_verdicts(folder: Path, config: Config, splits: int, seed: int, timeout: float) -> dict:
    """Transformer minus the validation-chosen baseline, test AUC, over ``splits`` user-grouped
    splits: the first is the compare run's, the others ``no_funnel`` runs with seeds seed+1...

    Returns the per-split figures and the paired difference's mean and one-sided 95 % lower
    bound (mean - t(0.95, n-1) * sd / sqrt(n)).
    """
    from scipy.stats import t as student

    summaries = [Path(config.output.dir) / "outputs" / "run_summary_no_funnel.json"]
    for offset in range(1, splits):
        name = split_config(folder, seed + offset)
        cli(["run", name, "--mode", "no_funnel"], folder, f"split{offset}.log", timeout)
        summaries.append(folder / f"split_seed{seed + offset}" / "outputs" / summaries[0].name)
    verdicts = [
        json.loads(path.read_text(encoding="utf-8"))["baseline_verdict"] for path in summaries
    ]
    differences = [v["difference"] for v in verdicts]
    n = len(differences)
    mean = sum(differences) / n
    spread = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1)) if n > 1 else math.nan
    return {
        "baseline": "/".join(sorted({v["baseline"] for v in verdicts})),
        "split_transformer": [v["auc_a"] for v in verdicts],
        "split_baseline": [v["auc_b"] for v in verdicts],
        "paired_mean": mean,
        "paired_lower": mean - student.ppf(0.95, n - 1) * spread / math.sqrt(n) if n > 1 else None,
    }


def run_case(
    case: LogCase, root: Path, sessions: int, seed: int, timeout: float, splits: int = 1
) -> dict:
    """Write one log, propose its config, run both modes, then the other splits' no_funnel
    runs; the row, whatever step failed."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(log=case.name, role=case.role, shape=case.shape, seconds=0.0)
    folder = root / case.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = None
    try:
        data = case.build(folder, round(sessions * case.scale), seed)
        started = time.perf_counter()
        try:
            config = load_config(propose_config(data, folder, timeout))
            cli(["compare", CONFIG_NAME], folder, "compare.log", timeout)
            row.update(split_verdicts(folder, config, splits, seed, timeout))
        finally:
            row["seconds"] = round(time.perf_counter() - started, 1)
        row["status"] = "ok"
    except Stopped as stop:
        row["status"] = str(stop)
    except Exception as error:  # the bench goes on with the next log whatever broke here
        row["status"] = f"crash: {type(error).__name__}: {str(error).splitlines()[0]}"
    if config is not None:
        row.update(run_figures(config))
        if row["sessions"] is None:
            # the status already says why the run stopped; unreadable input leaves sessions blank
            with contextlib.suppress(Exception):
                row.update(read_back(config))
    if row["status"] == "ok" and (row["converted"] or 0) < FEW_CONVERSIONS:
        row["status"] = f"ok, but {row['converted']} converting sessions: AUCs are noise"
    return row


def cell(value: Any, column: str) -> str:
    """A table cell: AUCs and rates to three places, blanks for what was not measured."""
    if value is None:
        return "-"
    if column == "status" and len(value) > STATUS_WIDTH:
        return value[: STATUS_WIDTH - 1] + "…"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if column == "conversion_rate":
            return f"{value:.1%}"
        return f"{value:.1f}" if column == "seconds" else f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_tables(rows: list[dict]) -> None:
    """The rows aligned for the console, then as a Markdown table."""
    headers = [HEADERS.get(c, c) for c in COLUMNS]
    cells = [[cell(row[c], c) for c in COLUMNS] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print()
    print("| " + " | ".join(headers) + " |")
    text_columns = ("log", "role", "shape", "baseline", "status")
    print("|" + "|".join("---" if c in text_columns else "---:" for c in COLUMNS) + "|")
    for r in cells:
        print("| " + " | ".join(v.replace("|", "\\|") for v in r) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--logs", default="", help="comma-separated log names (default: all)")
    parser.add_argument("--sessions", type=int, default=4000, help="sessions per generated log")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder kept for inspection")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per command")
    parser.add_argument(
        "--splits", type=int, default=5, help="user-grouped splits per log (seeds seed..)"
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.logs.split(",") if name.strip()]
    known = {case.name: case for case in CASES}
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown log(s) {unknown}; choose from {', '.join(known)}")
    cases = [known[name] for name in names] if names else list(CASES)
    with tempfile.TemporaryDirectory() as scratch:
        root = (args.out or Path(scratch)).resolve()
        started = time.perf_counter()
        rows = []
        for case in cases:
            rows.append(run_case(case, root, args.sessions, args.seed, args.timeout, args.splits))
            print(f"{case.name}: {rows[-1]['status']} ({rows[-1]['seconds']}s)", flush=True)
        (root / "real_logs.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
        print(
            f"\n{len(cases)} logs, {args.sessions:,} sessions per generated log, seed {args.seed}, "
            f"{args.splits} splits, {time.perf_counter() - started:.0f}s\n"
        )
        print_tables(rows)


if __name__ == "__main__":
    main()
