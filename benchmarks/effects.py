"""Signed effects and calibration against the planted truth of the demo's generator.

For each log (the demo's shape and some of its generator's variants) and seed, eventlift runs
``no_funnel`` with its defaults and the event-type and position tables' effects are compared
with the true effects of removing the same events under the planted model
(:func:`eventlift.analysis.true_effects.true_removal_effects`, over the same test sessions):
Spearman's ρ of ``effect_pp`` with the truth (and of the lift, for comparison), the share of
rows whose 95 % interval holds the true effect, the rows called drivers or blockers at
q < 0.05 and how many of them have the wrong sign (or a true effect under 0.05 pp), the expected
calibration error before and after calibration, and the seconds of the effects stage; for the
store table, how many of the ten stores with the largest true effect are among the top ten by
raw and shrunk effect and lift.

    python benchmarks/effects.py [--sessions 8000] [--seeds 5] [--logs demo short_sessions]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

import eventlift
from eventlift.analysis.tables import position_bucket_labels
from eventlift.analysis.true_effects import true_removal_effects
from eventlift.data.synthetic import VARIANTS, generate_events
from eventlift.workflow.demo import demo_config

LOGS = ("demo", "few_event_types", "strong_order_effects", "rare_conversions")
CLEAR_PP = 0.05  # a true effect smaller than this is no finding either way
TOP_STORES = 10


def one_run(name: str, seed: int, n_sessions: int) -> list[dict]:
    events, truth = generate_events(n_sessions=n_sessions, seed=seed, **VARIANTS.get(name, {}))
    config = demo_config(tempfile.mkdtemp(), seed=seed).replace(
        output={"modes": ["no_funnel"], "write_plots": False},
        attribution={"faithfulness_sessions": 0},
    )
    started = time.perf_counter()
    result = eventlift.run(events, config, mode="no_funnel", write=False)
    seconds = time.perf_counter() - started
    test = result.session_table.loc[result.session_table["split"] == "test", "session_id"]
    edges = config.attribution.position_buckets
    true = true_removal_effects(truth, test.astype(str).tolist(), edges)
    labels = dict(zip(edges, position_bucket_labels(edges), strict=True))
    true["position"].index = true["position"].index.map(labels)
    rows = []
    for table_name, key in (("event_type", "event"), ("position", "position_bucket")):
        table = result.tables[table_name].set_index(key)
        table = table[table["effect_pp"].notna()]
        truth_pp = true[table_name].reindex(table.index.astype(str))
        known = truth_pp.notna().to_numpy()
        table, truth_pp = table[known], truth_pp[known]
        called = table["q_value"] < 0.05
        wrong = called & (
            (np.sign(table["effect_pp"]) != np.sign(truth_pp)) | (truth_pp.abs() < CLEAR_PP)
        )
        covered = (table["effect_ci_low"] <= truth_pp) & (truth_pp <= table["effect_ci_high"])
        rows.append(
            {
                "log": name,
                "seed": seed,
                "table": table_name,
                "rows": len(table),
                "rho_effect": round(float(spearmanr(table["effect_pp"], truth_pp).statistic), 3),
                "rho_lift": round(float(spearmanr(table["lift"], truth_pp).statistic), 3),
                "coverage": round(float(covered.mean()), 3),
                "called": int(called.sum()),
                "false_calls": int(wrong.sum()),
                "ece_before": result.summary["calibration"]["ece_before"],
                "ece_after": result.summary["calibration"]["ece_after"],
                "calibration": result.summary["calibration"]["method"],
                "effects_s": round(result.summary["timings_s"]["effects"], 1),
                "run_s": round(seconds, 1),
            }
        )
    if "store" in result.tables:
        rows.append(store_row(name, seed, result.tables["store"], true["store"]))
    return rows


def store_row(name: str, seed: int, table: pd.DataFrame, truth_pp: pd.Series) -> dict:
    """Top-10 recall of the stores with the largest true effect, by each store column."""
    table = table.set_index(table["store_id"].astype(str))
    truth_pp = truth_pp.reindex(table.index).dropna()
    top = set(truth_pp.nlargest(TOP_STORES).index)

    def recall(column: str) -> float:
        ranked = table.loc[truth_pp.index, column].dropna().nlargest(TOP_STORES).index
        return round(len(top & set(ranked)) / TOP_STORES, 3)

    shrunk = table.loc[truth_pp.index, "effect_shrunk"]
    return {
        "log": name,
        "seed": seed,
        "table": "store",
        "rows": len(truth_pp),
        "rho_effect": round(float(spearmanr(shrunk, truth_pp, nan_policy="omit").statistic), 3),
        **{
            f"top{TOP_STORES}_{column}": recall(column)
            for column in ("effect_pp", "effect_shrunk", "lift", "lift_shrunk")
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--logs", nargs="*", default=list(LOGS))
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    for name in args.logs:
        for seed in range(args.seeds):
            for row in one_run(name, seed, args.sessions):
                rows.append(row)
                print(json.dumps(row), flush=True)
    frame = pd.DataFrame(rows)
    stores = frame[frame["table"] == "store"]
    if len(stores):
        columns = [c for c in stores.columns if c.startswith(f"top{TOP_STORES}_")]
        print(stores.groupby("log")[["rho_effect", *columns]].mean().round(3).to_string())
    frame = frame[frame["table"] != "store"]
    summary = frame.groupby(["table", "log"]).agg(
        rho_effect=("rho_effect", "median"),
        rho_lift=("rho_lift", "median"),
        coverage=("coverage", "mean"),
        called=("called", "sum"),
        false_calls=("false_calls", "sum"),
        ece_before=("ece_before", "mean"),
        ece_after=("ece_after", "mean"),
        effects_s=("effects_s", "mean"),
    )
    print(summary.round(3).to_string())
    totals = frame.groupby("table")[["called", "false_calls"]].sum()
    totals["false_share"] = (totals["false_calls"] / totals["called"]).round(3)
    totals["coverage"] = frame.groupby("table")["coverage"].mean().round(3)
    print(totals.to_string())
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
