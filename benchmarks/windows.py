"""What each ``[sessions] window`` does to the model: test AUC and the event-type ranking.

For each log, eventlift runs in ``no_funnel`` mode three times, once per window: ``full`` (the
sessions as they are), ``prefix`` (every session cut to its first ``--prefix-events`` events) and
``matched`` (non-converted sessions cut to the converted lengths). Each row gives the test AUC of
the Transformer and of the better baseline, session length's AUC on the training split after the
window (and which class is shorter), the Spearman correlation of the event-type lift with the
planted truth, with the ``full`` window's lift, and the top three event types.

The logs: the demo's generator and three of its variants (truth: the planted event effects), and
four leak scenarios (:mod:`eventlift.data.leak_scenarios`; truth: the drivers' planted effects,
zero for background events), two of them with a planted cut at conversion (non-converted sessions
browse on, or end on an exit event). Run alone: torch runs share two cores badly.

    python benchmarks/windows.py [--sessions 4000] [--epochs 4] [--seeds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

import eventlift
from eventlift.analysis.recovery import event_spearman
from eventlift.config import Config
from eventlift.data.leak_scenarios import SCENARIOS, generate_scenario
from eventlift.data.synthetic import VARIANTS, generate_events
from eventlift.workflow.demo import demo_config

DEMO_LOGS = ("demo", "short_sessions", "strong_order_effects", "partial_funnel")
SCENARIO_LOGS = ("drivers_only", "browse_on", "exit_event", "browse_on_late_step")


def windows(prefix_events: int) -> dict[str, dict]:
    return {
        "full": {"window": "full"},
        "prefix": {"window": "prefix", "window_events": prefix_events},
        "matched": {"window": "matched"},
    }


def small(config: Config, epochs: int) -> Config:
    """The bench's run settings: a small model, no bootstrap-heavy extras, nothing written."""
    return config.replace(
        model={"d_model": 32, "n_heads": 2, "d_ff": 64, "members": 1},
        train={"epochs": epochs},
        attribution={"bootstrap": 20, "faithfulness_sessions": 0},
        output={"modes": ["no_funnel"], "write_plots": False},
    )


def demo_log(name: str, n_sessions: int, seed: int) -> tuple[pd.DataFrame, Config, object]:
    frame, truth = generate_events(n_sessions=n_sessions, seed=seed, **VARIANTS.get(name, {}))
    config = demo_config(tempfile.mkdtemp(), seed=seed)
    return frame, config, lambda lift: event_spearman(lift, truth)


def scenario_log(name: str, n_sessions: int, seed: int) -> tuple[pd.DataFrame, Config, object]:
    scenario = dataclasses.replace(SCENARIOS[name], n_sessions=n_sessions, seed=seed)
    frame = generate_scenario(scenario)
    config = Config.from_dict(
        {
            "columns": {"store_id": None, "event_category": "event_category"},
            "sessions": {
                "conversion_events": ["purchase"],
                "funnel_categories": [],
                "funnel_events": list(scenario.leaks),
            },
            "train": {"seed": seed},
            "output": {"dir": tempfile.mkdtemp()},
        }
    )
    effects = {driver.name: driver.effect for driver in scenario.drivers}

    def truth(lift: pd.Series) -> float:
        planted = lift.index.map(lambda event: effects.get(event, 0.0)).to_numpy(dtype=float)
        return float(spearmanr(lift.to_numpy(), planted).statistic)

    return frame, config, truth


def run_row(name: str, window: str, frame, config: Config, truth, epochs: int, sizes) -> dict:
    started = time.perf_counter()
    config = small(config, epochs).replace(sessions=sizes)
    result = eventlift.run(frame, config, mode="no_funnel", write=False)
    table = result.tables["event_type"].set_index("event")["lift"]
    baselines = result.baselines
    session_end = result.summary["session_end"]
    return {
        "log": name,
        "window": window,
        "events": result.summary["counts"]["events"],
        "test_auc": round(result.metrics["test_auc"], 3),
        "baseline_auc": round(max(b["test_auc"] for b in baselines.values()), 3),
        "length_auc": session_end["length_auc"],
        "converted_shorter": session_end["converted_shorter"],
        "truth_spearman": round(truth(table), 3),
        "top3": table.sort_values(ascending=False).index[:3].tolist(),
        "_lift": table,
        "seconds": round(time.perf_counter() - started, 1),
    }


def summarise(rows: pd.DataFrame) -> str:
    """Means over seeds per log and window, then over every log per window."""
    columns = ["test_auc", "baseline_auc", "length_auc", "truth_spearman", "rho_vs_full"]
    per_log = rows.groupby(["log", "window"], sort=False)[columns].mean()
    overall = rows.groupby("window", sort=False)[columns[:1] + columns[3:]].agg(["mean", "min"])
    return f"{per_log.round(3).to_string()}\n\n{overall.round(3).to_string()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--prefix-events", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=1, help="logs and models per log: seeds 0..")
    parser.add_argument("--logs", nargs="*", default=[*DEMO_LOGS, *SCENARIO_LOGS])
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    print("log window events test_auc baseline length_auc truth_rho rho_vs_full top3")
    for name, seed in [(name, seed) for name in args.logs for seed in range(args.seeds)]:
        loader = demo_log if name in DEMO_LOGS or name in VARIANTS else scenario_log
        frame, config, truth = loader(name, args.sessions, seed)
        full = None
        for window, sizes in windows(args.prefix_events).items():
            row = run_row(name, window, frame, config, truth, args.epochs, sizes)
            row["seed"] = seed
            lift = row.pop("_lift")
            full = lift if full is None else full
            shared = lift.index.intersection(full.index)
            row["rho_vs_full"] = round(float(spearmanr(lift[shared], full[shared]).statistic), 3)
            rows.append(row)
            side = "shorter" if row["converted_shorter"] else "longer"
            print(
                f"{name:22s} {window:8s} {row['events']:7d} {row['test_auc']:.3f} "
                f"{row['baseline_auc']:.3f} {row['length_auc']:.3f}({side}) "
                f"{row['truth_spearman']:+.3f} {row['rho_vs_full']:+.3f} {row['top3']} "
                f"({row['seconds']} s)",
                flush=True,
            )
    print(summarise(pd.DataFrame(rows)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1, default=lambda v: np.asarray(v).tolist())
    return 0


if __name__ == "__main__":
    sys.exit(main())
