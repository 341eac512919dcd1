"""Compare the attribution methods on the demo data, whose true causes are known; prints a table.

    python benchmarks/attribution_methods.py [--sessions 30000] [--seed 0] [--sample 1000]

Trains the default ``no_funnel`` model once, then scores every method of ``METHODS`` on the test
split. Integrated gradients and occlusion are slow, so they (and, for a like-for-like comparison,
every other method) are scored on ``--sample`` test sessions; the fast methods are also scored on
all test sessions. Columns:

- ``spearman``: rank correlation of event-type lift with the planted event effects.
- ``best store``: rank of the planted best store by lift among supported stores (of how many).
- ``top5``: share of the five largest planted store effects among the five largest store lifts.
- ``contrib r``: mean per-session Pearson correlation of signed scores with true contributions.
- ``AOPC del`` / ``random`` / ``x random``: deletion AOPC of the signed scores, that of random
  orders and their ratio (``inf`` when random orders do not lower the logit), always on the
  ``--sample`` sessions (the top half of them by logit).
- ``IG gap %``: mean |sum of scores - logit difference| / mean |logit difference|.
- ``sess/s``: sessions attributed per second (wall clock, this machine).

The classic multi-touch rules (first/last touch, linear, time decay, position-based, Markov
removal) are scored with the same Spearman on the test split's converted sessions.
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from eventlift.analysis.multitouch import CREDIT_COLUMNS, multitouch_credit
from eventlift.analysis.recovery import contribution_correlation, event_spearman, recovery_scores
from eventlift.analysis.tables import attribution_tables
from eventlift.attribution import (
    METHODS,
    IntegratedGradients,
    attribute_sessions,
    faithfulness,
    get_attributor,
)
from eventlift.data.readers import read_events
from eventlift.data.synthetic import generate_events
from eventlift.demo import demo_config
from eventlift.pipeline import RunResult, event_level_frame, run_prepared

SLOW_METHODS = ("integrated_gradients", "occlusion")
COLUMNS = (
    ("method", "<26"),
    ("sessions", ">8"),
    ("spearman", ">9"),
    ("best store", ">11"),
    ("top5", ">5"),
    ("contrib r", ">10"),
    ("AOPC del", ">9"),
    ("random", ">7"),
    ("x random", ">9"),
    ("IG gap %", ">9"),
    ("sess/s", ">8"),
)


class RecordingIntegratedGradients(IntegratedGradients):
    """Integrated gradients that keep every batch's completeness gap, not only the last one."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__(model)
        self.gaps: list[torch.Tensor] = []  # (B,) per batch
        self.differences: list[torch.Tensor] = []  # (B,) per batch

    def attribute(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        scores, logits = super().attribute(batch)
        self.gaps.append(self.last_completeness_gap.detach().abs().cpu())
        self.differences.append(self.last_logit_difference.detach().abs().cpu())
        return scores, logits

    def gap_percent(self) -> float:
        """Mean |completeness gap| over mean |logit difference|, in percent."""
        return float(100 * torch.cat(self.gaps).mean() / torch.cat(self.differences).mean())


@dataclass
class Scored:
    """One method's attribution of a set of sessions and how long it took."""

    name: str
    rows: np.ndarray  # (R,) encoded rows that were attributed
    raw: np.ndarray  # (N, max_len) signed scores, zero outside ``rows``
    event_level: pd.DataFrame  # events of ``rows`` only
    seconds: float
    gap_percent: float = math.nan


def attribute(name: str, result: RunResult, rows: np.ndarray, batch_size: int) -> Scored:
    """Attribute ``rows`` with the method called ``name`` and build their event-level frame."""
    if name == IntegratedGradients.name:
        attributor = RecordingIntegratedGradients(result.model)
    else:
        attributor = get_attributor(name, result.model)
    started = time.perf_counter()
    scores = attribute_sessions(attributor, result.encoded, rows, batch_size=batch_size)
    seconds = time.perf_counter() - started
    frame = event_level_frame(result.sessions, result.session_table["split"], scores)
    ids = result.session_table["session_id"].to_numpy()[rows]
    gap = attributor.gap_percent() if isinstance(attributor, RecordingIntegratedGradients) else None
    return Scored(
        name=name,
        rows=rows,
        raw=scores.raw,
        event_level=frame[frame["session_id"].isin(ids)],
        seconds=seconds,
        gap_percent=math.nan if gap is None else gap,
    )


def restrict(scored: Scored, rows: np.ndarray, ids: np.ndarray) -> Scored:
    """The same scores read on a subset of their sessions (no new attribution, same speed)."""
    frame = scored.event_level[scored.event_level["session_id"].isin(ids)]
    speed = scored.seconds * len(rows) / len(scored.rows)
    return Scored(scored.name, rows, scored.raw, frame, speed, scored.gap_percent)


def method_row(scored: Scored, result: RunResult, truth, sample: np.ndarray, config) -> dict:
    """Every column of one method's row; faithfulness always on the ``sample`` sessions."""
    tables = attribution_tables(
        scored.event_level,
        position_buckets=config.attribution.position_buckets,
        min_support=config.attribution.min_support,
        bootstrap=0,
        seed=config.train.seed,
    )
    recovery = recovery_scores(tables, truth)
    faith = faithfulness(result.model, result.encoded, scored.raw, sample, method=scored.name)
    rank = recovery["best_store_rank"]
    return {
        "method": scored.name,
        "sessions": f"{len(scored.rows):,}",
        "spearman": f"{recovery['event_spearman']:.3f}",
        "best store": f"{rank if rank is not None else '-'} of {recovery['supported_stores']}",
        "top5": _number(recovery["store_top5_overlap"], ".1f"),
        "contrib r": _number(contribution_correlation(scored.event_level, truth), ".3f"),
        "AOPC del": f"{faith.aopc_deletion:.3f}",
        "random": f"{faith.random_aopc_deletion:.3f}",
        "x random": _number(faith.ratio_vs_random, ".2f"),
        "IG gap %": _number(scored.gap_percent, ".2g"),
        "sess/s": f"{len(scored.rows) / scored.seconds:,.0f}",
    }


def multitouch_rows(result: RunResult, truth) -> list[dict]:
    """Spearman of each multi-touch rule's credit with the planted effects, on the test split."""
    sessions = result.session_table[result.session_table["split"] == "test"]
    credit = multitouch_credit(result.sessions.events, sessions[["session_id", "converted"]])
    credit = credit.set_index("event")
    return [
        {
            "method": f"multitouch: {column}",
            "spearman": f"{event_spearman(credit[column], truth):.3f}",
        }
        for column in CREDIT_COLUMNS
    ]


def _number(value: float | None, spec: str) -> str:
    """``value`` formatted, ``inf`` kept, ``-`` for None and NaN."""
    if value is None or math.isnan(value):
        return "-"
    return format(value, spec)


def print_table(rows: list[dict]) -> None:
    print("  ".join(format(name, spec) for name, spec in COLUMNS))
    for row in rows:
        print("  ".join(format(row.get(name, "-"), spec) for name, spec in COLUMNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=1000, help="test sessions for slow parts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    events, truth = generate_events(seed=args.seed, n_sessions=args.sessions)
    with tempfile.TemporaryDirectory() as out:
        config = demo_config(out, seed=args.seed)
        result = run_prepared(read_events(events, config), config, "no_funnel", write=False)
    train_seconds = time.perf_counter() - started
    test_rows = result.encoded.indices("test")
    rng = np.random.default_rng(args.seed)
    sample = np.sort(rng.choice(test_rows, min(args.sample, len(test_rows)), replace=False))
    sample_ids = result.session_table["session_id"].to_numpy()[sample]
    test_ids = result.session_table["session_id"].to_numpy()[test_rows]
    oracle = truth.oracle_auc(test_ids)
    print(
        f"{args.sessions:,} sessions (seed {args.seed}), {len(test_rows):,} test, sample "
        f"{len(sample):,}; {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; data + training "
        f"{train_seconds:.0f} s, test AUC {result.metrics['test_auc']:.3f} (oracle {oracle:.3f})"
    )

    batch_size = config.attribution.batch_size
    on_sample, on_test = [], []
    for name in METHODS:
        if name in SLOW_METHODS:
            on_sample.append(attribute(name, result, sample, batch_size))
            continue
        scored = attribute(name, result, test_rows, batch_size)
        on_test.append(scored)
        on_sample.append(restrict(scored, sample, sample_ids))
    rows = [method_row(s, result, truth, sample, config) for s in (*on_sample, *on_test)]
    print_table([*rows, *multitouch_rows(result, truth)])


if __name__ == "__main__":
    main()
