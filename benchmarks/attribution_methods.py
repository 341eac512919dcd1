"""Compare the attribution methods on the demo data, whose true causes are known; prints a table.

    python benchmarks/attribution_methods.py [--sessions 30000] [--seed 0] [--sample 2000]

Trains the default ``no_funnel`` model once, then scores every method of
``eventlift.attribution.METHODS`` and every multi-touch rule on the same ``--sample`` test
sessions with :func:`eventlift.workflow.evaluation.evaluate_methods` (what ``eventlift demo`` and
``eventlift evaluate`` report); the fast methods are scored again on all test sessions. Columns:

- ``spearman``: rank correlation of event-type lift with the planted event effects.
- ``best store``: rank of the planted best store by lift among supported stores (of how many).
- ``top5``: share of the five largest planted store effects among the five largest store lifts.
- ``contrib r``: mean per-session Pearson correlation of signed scores with true contributions.
- ``signs``: event types with a clear planted effect whose mean signed score's bootstrap interval
  lies on the planted side (of how many).
- ``AOPC del`` / ``random`` / ``x random``: deletion AOPC of the signed scores, that of random
  orders and their ratio, on the top half by logit of up to 500 of the sessions.
- ``IG gap %``: mean |sum of scores - logit difference| / mean |logit difference|.
- ``sess/s``: sessions attributed per second (wall clock, this machine).
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import tempfile
import time

import pandas as pd
import torch

from eventlift.data.readers import read_events
from eventlift.data.synthetic import generate_events
from eventlift.workflow.demo import demo_config
from eventlift.workflow.evaluation import evaluate_methods
from eventlift.workflow.pipeline import run_prepared

FAST_METHODS = ["grad_x_input", "attention", "attention_rollout"]
COLUMNS = (
    ("method", "<22", None),
    ("sessions", ">8", ","),
    ("spearman", ">9", ".3f"),
    ("best store", ">11", None),
    ("top5", ">5", ".1f"),
    ("contrib r", ">10", ".3f"),
    ("signs", ">6", None),
    ("AOPC del", ">9", ".3f"),
    ("random", ">7", ".3f"),
    ("x random", ">9", ".2f"),
    ("IG gap %", ">9", ".2g"),
    ("sess/s", ">8", ",.0f"),
)
SOURCES = {
    "sessions": "sessions",
    "spearman": "event_spearman",
    "top5": "store_top5_overlap",
    "contrib r": "contribution_r",
    "AOPC del": "aopc_deletion",
    "random": "random_aopc_deletion",
    "x random": "aopc_ratio",
    "IG gap %": "completeness_gap_pct",
    "sess/s": "sessions_per_second",
}


def cells(row: dict) -> dict[str, str]:
    """One printed row: numbers formatted, ``-`` where a figure does not apply."""
    out = {"method": row["method"] if row["kind"] == "transformer" else f"mt: {row['method']}"}
    for name, _, spec in COLUMNS[1:]:
        if name in SOURCES:
            value = row[SOURCES[name]]
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            out[name] = "-" if missing else format(value, spec)
    if row["kind"] == "transformer":
        rank = row["best_store_rank"]
        shown = "-" if rank is None or math.isnan(rank) else int(rank)
        out["best store"] = f"{shown} of {int(row['supported_stores'])}"
        out["signs"] = f"{int(row['signs_agree'])}/{int(row['signs_checked'])}"
    return out


def print_table(frame: pd.DataFrame) -> None:
    print("  ".join(format(name, align) for name, align, _ in COLUMNS))
    for row in frame.to_dict("records"):
        shown = cells(row)
        print("  ".join(format(shown.get(name, "-"), align) for name, align, _ in COLUMNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=2000, help="test sessions for every method")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    events, truth = generate_events(seed=args.seed, n_sessions=args.sessions)
    with tempfile.TemporaryDirectory() as out:
        config = demo_config(out, seed=args.seed)
        result = run_prepared(read_events(events, config), config, "no_funnel", write=False)
    train_seconds = time.perf_counter() - started
    test_ids = result.session_table.loc[result.session_table["split"] == "test", "session_id"]
    print(
        f"{args.sessions:,} sessions (seed {args.seed}), {len(test_ids):,} test, sample "
        f"{args.sample:,}; {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; data + training "
        f"{train_seconds:.0f} s, test AUC {result.metrics['test_auc']:.3f} (oracle "
        f"{truth.oracle_auc(test_ids):.3f})"
    )
    inputs = (result.model, result.sessions, result.session_table["split"], result.encoded)
    on_sample = evaluate_methods(*inputs, truth, config, sample=args.sample)
    on_test = evaluate_methods(*inputs, truth, config, methods=FAST_METHODS, sample=0)
    print_table(pd.concat([on_sample, on_test[on_test["kind"] == "transformer"]]))


if __name__ == "__main__":
    main()
