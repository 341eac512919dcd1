"""The leak detector on logs whose leaks are planted and known, the demo and a real log.

    python benchmarks/leaks.py [--scenarios a,b] [--seeds 1] [--demo-sessions 30000] [--json F]

Each scenario of :data:`eventlift.data.leak_scenarios.SCENARIOS` is generated (``--seeds``
draws of each), built into sessions with nothing declared as a funnel (the new user's case),
split as a run splits it, and probed on its training split as a run probes it
(:func:`eventlift.analysis.trust.find_leaks`). Per scenario the row gives the planted funnel steps
and how many were named, the genuine drivers and how many were named, whether a cut at
conversion was planted (non-converted sessions browsing on, or ending on an exit event) and
whether it was caught (the exit event named, or the session-end probe flagged), the session-end
AUCs, and each planted step's *test* gain: the test-split AUC of a bag-of-events logistic model
fitted on the training split with every event, minus the same without the step. That gain is
measured apart from the detector (whose gain rule is cross-fitted on the training split), so
"every step raising AUC by 0.10 or more is named" is a check, not a tautology.

The totals give the recall of planted leaks (steps, exit events and cuts), the share of drivers
named, and the steps with a test gain of 0.10 or more that went unnamed. Two more rows: the demo
(``eventlift.data.synthetic``, ``--demo-sessions``) in ``no_funnel`` and ``with_funnel`` mode,
and the OTTO sample (``../shared/data/otto-sample.jsonl``) as ``eventlift init`` reads it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from eventlift.analysis.leak_rules import bag_of_events
from eventlift.analysis.trust import find_leaks
from eventlift.config import ColumnsConfig, Config, SessionsConfig
from eventlift.data.leak_scenarios import EXIT, SCENARIOS, generate_scenario
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events

ROOT = Path(__file__).resolve().parents[1]
OTTO = ROOT.parent / "shared" / "data" / "otto-sample.jsonl"


def probe(frame: pd.DataFrame, config: Config, mode: str) -> tuple[list[dict], dict, pd.DataFrame]:
    """Findings, the session-end entry and the labelled sessions of one log in one mode."""
    data, split, _ = prepare_sessions(frame, config, mode)
    labelled = data.sessions.assign(split=split.to_numpy())
    findings, session_end = find_leaks(data, labelled, config)
    return findings, session_end, labelled.assign(_events=_sequences(data, labelled))


def _sequences(data, labelled: pd.DataFrame) -> list[np.ndarray]:
    groups = data.events.groupby("session_id", sort=False, observed=True)["event"]
    by_session = {key: group.astype(str).to_numpy() for key, group in groups}
    return [by_session[key] for key in labelled["session_id"]]


def test_gains(labelled: pd.DataFrame, steps: list[str]) -> dict[str, float]:
    """Test AUC of the bag with every event minus without each step (fitted on train)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    matrix, columns = bag_of_events(list(labelled["_events"]))
    labels = labelled["converted"].to_numpy(dtype=bool)
    train = (labelled["split"] == "train").to_numpy()
    test = (labelled["split"] == "test").to_numpy()

    def auc(kept: np.ndarray) -> float:
        model = LogisticRegression(C=1.0, max_iter=300).fit(matrix[train][:, kept], labels[train])
        return float(roc_auc_score(labels[test], model.decision_function(matrix[test][:, kept])))

    everything = np.ones(matrix.shape[1], dtype=bool)
    full = auc(everything)
    gains = {}
    for step in steps:
        if step in columns:
            without = everything.copy()
            without[columns[step]] = False
            gains[step] = round(full - auc(without), 3)
    return gains


def scenario_row(name: str, seed: int) -> dict:
    scenario = dataclasses.replace(SCENARIOS[name], seed=seed)
    started = time.perf_counter()
    frame = generate_scenario(scenario)
    config = Config(
        sessions=SessionsConfig(conversion_events=["purchase"], funnel_categories=[]),
        columns=ColumnsConfig(store_id=None),
    )
    findings, session_end, labelled = probe(read_events(frame, config), config, "with_funnel")
    named = {finding["event"] for finding in findings}
    steps = list(scenario.leaks)
    drivers = [driver.name for driver in scenario.drivers]
    exit_planted = scenario.p_exit > 0
    cut_caught = bool(session_end["flagged"]) or (exit_planted and EXIT in named)
    gains = test_gains(labelled, steps)
    return {
        "scenario": name,
        "seed": seed,
        "sessions": len(labelled),
        "conversion_rate": round(float(labelled["converted"].mean()), 3),
        "steps": len(steps),
        "steps_named": len(named & set(steps)),
        "drivers": len(drivers),
        "drivers_named": sorted(named & set(drivers)),
        "cut_planted": scenario.cut_leak,
        "cut_caught": cut_caught if scenario.cut_leak else None,
        "cut_flagged": bool(session_end["flagged"]),
        "length_auc": session_end["length_auc"],
        "converted_shorter": session_end["converted_shorter"],
        "last_event_auc": session_end["last_event_auc"],
        "step_test_gains": gains,
        "missed_steps": sorted(set(steps) - named),
        "other_named": sorted(named - set(steps) - set(drivers) - {EXIT}),
        "rules": {finding["event"]: "+".join(finding["rules"]) for finding in findings},
        "seconds": round(time.perf_counter() - started, 1),
    }


def demo_rows(n_sessions: int, variant: str | None = None) -> list[dict]:
    """The demo (or one of its generator's variants) in both modes."""
    from eventlift.data.synthetic import VARIANTS, generate_events
    from eventlift.workflow.demo import demo_config

    frame, _ = generate_events(n_sessions=n_sessions, seed=0, **VARIANTS.get(variant, {}))
    config = demo_config(tempfile.gettempdir())
    if variant == "no_stores":
        config = config.replace(columns={"store_id": None, "store_name": None})
    rows, events = [], read_events(frame, config)
    for mode in ("no_funnel", "with_funnel"):
        findings, session_end, _ = probe(events, config, mode)
        rows.append(_plain_row(f"{variant or 'demo'} {mode}", findings, session_end))
    return rows


def otto_row() -> dict | None:
    from eventlift.config import load_config
    from eventlift.data.profile import profile_source
    from eventlift.workflow.starter_config import write_config

    if not OTTO.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(write_config(profile_source(str(OTTO)), Path(folder) / "el.toml"))
    frame = read_events(None, config)
    findings, session_end, _ = probe(frame, config, "with_funnel")
    return _plain_row("otto with_funnel", findings, session_end)


def _plain_row(name: str, findings: list[dict], session_end: dict) -> dict:
    return {
        "scenario": name,
        "named": {finding["event"]: "+".join(finding["rules"]) for finding in findings},
        "length_auc": session_end["length_auc"],
        "converted_shorter": session_end["converted_shorter"],
        "last_event_auc": session_end["last_event_auc"],
        "cut_flagged": session_end["flagged"],
    }


def totals(rows: list[dict]) -> dict:
    planted = sum(row["steps"] + (row["cut_planted"] is True) for row in rows)
    caught = sum(row["steps_named"] + bool(row["cut_caught"]) for row in rows)
    drivers = sum(row["drivers"] for row in rows)
    drivers_named = sum(len(row["drivers_named"]) for row in rows)
    strong = [
        (row["scenario"], step, gain)
        for row in rows
        for step, gain in row["step_test_gains"].items()
        if gain >= 0.10
    ]
    strong_missed = [item for item in strong if item[1] in rows_missed(rows, item[0])]
    return {
        "planted_leaks": planted,
        "recall": round(caught / planted, 3) if planted else None,
        "drivers": drivers,
        "drivers_named_share": round(drivers_named / drivers, 3) if drivers else None,
        "steps_with_test_gain_0.10": len(strong),
        "of_them_unnamed": strong_missed,
        "false_cut_flags": sum(row["cut_flagged"] and not row["cut_planted"] for row in rows),
    }


def rows_missed(rows: list[dict], scenario: str) -> set[str]:
    return {step for row in rows if row["scenario"] == scenario for step in row["missed_steps"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--demo-sessions", type=int, default=30_000)
    parser.add_argument("--variant-sessions", type=int, default=8_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    header = "scenario seed conv steps named drivers_named cut caught len_auc last_auc gains rules"
    print(header)
    for name in args.scenarios.split(","):
        for seed in range(args.seeds):
            row = scenario_row(name, seed)
            rows.append(row)
            print(
                f"{name:38s} {seed} {row['conversion_rate']:.3f} {row['steps']} "
                f"{row['steps_named']} {','.join(row['drivers_named']) or '-':14s} "
                f"{'yes' if row['cut_planted'] else 'no ':3s} {row['cut_caught']!s:5s} "
                f"{row['length_auc']:.2f}{'-' if row['converted_shorter'] else '+'} "
                f"{row['last_event_auc']:.2f} "
                f"{row['step_test_gains']} {row['rules']} ({row['seconds']} s)",
                flush=True,
            )
    summary = totals(rows)
    print(json.dumps(summary, indent=1))
    from eventlift.data.synthetic import VARIANTS

    extra = [] if not args.demo_sessions else demo_rows(args.demo_sessions)
    if args.variant_sessions:
        extra += [row for name in VARIANTS for row in demo_rows(args.variant_sessions, name)]
    otto = otto_row()
    for row in [*extra, *([otto] if otto else [])]:
        print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "totals": summary, "other": extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
