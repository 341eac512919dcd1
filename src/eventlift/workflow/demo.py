"""``eventlift demo``: generate a log with known causes, run both modes, and check the answers.

Writes ``data/synthetic_events.parquet`` and ``data/ground_truth.json`` under the output folder;
the full output of ``no_funnel`` and ``with_funnel`` with their comparison and
``report.html``; ``demo_summary.json`` with the AUCs next to the oracle, the baselines and the
recovery of the planted causes; and ``outputs/method_recovery_no_funnel.csv``: every attribution
method and multi-touch rule scored against the planted truth on the same test sessions
(:mod:`eventlift.workflow.evaluation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from eventlift.analysis.recovery import recovery_scores
from eventlift.config import MODES, Config
from eventlift.core.atomic import write_csv, write_json, write_parquet
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.readers import read_events
from eventlift.data.synthetic import GroundTruth, SyntheticSpec, generate_events
from eventlift.workflow.comparison import ModeComparison
from eventlift.workflow.evaluation import DEFAULT_SAMPLE, evaluate_methods
from eventlift.workflow.pipeline import run_modes
from eventlift.workflow.result import RunResult

__all__ = ["DemoResult", "demo_config", "run_demo"]


@dataclass
class DemoResult:
    """Both modes' results, the planted truth and the headline figures."""

    out_dir: Path
    results: dict[str, RunResult]
    truth: GroundTruth
    oracle_auc: float
    recovery: dict[str, dict[str, Any]] = field(default_factory=dict)
    comparison: ModeComparison | None = None  # when both modes ran
    method_recovery: pd.DataFrame | None = None  # per method, no_funnel; None when not run

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per mode: test AUC beside the oracle and both baselines."""
        return [
            {
                "mode": mode,
                "test_auc": result.metrics["test_auc"],
                "oracle_auc": self.oracle_auc,
                "logistic_auc": result.baselines["logistic"]["test_auc"],
                "lightgbm_auc": result.baselines["lightgbm"]["test_auc"],
                "best_epoch": result.metrics["best_epoch"],
                "top_events": self.recovery[mode]["top_events"],
            }
            for mode, result in self.results.items()
        ]


def demo_config(out_dir: str | Path, *, seed: int = 0, **sections: dict[str, Any]) -> Config:
    """The config the demo runs with: the synthetic log's columns and conversion event."""
    out_dir = Path(out_dir)
    base = Config.from_dict(
        {
            "input": {"path": str(out_dir / "data" / "synthetic_events.parquet")},
            "columns": {
                "session_id": "session_id",
                "user_id": "user_id",
                "timestamp": "timestamp",
                "event": "event",
                "event_category": "event_category",
                "store_id": "store_id",
                "store_name": "store_name",
            },
            "sessions": {"conversion_events": ["order_placed"]},
            "train": {"seed": seed},
            "output": {"dir": str(out_dir), "modes": list(MODES)},
        }
    )
    return base.replace(**sections) if sections else base


def run_demo(
    out_dir: str | Path = "eventlift-demo",
    *,
    n_sessions: int | None = None,
    seed: int = 0,
    config_overrides: dict[str, dict[str, Any]] | None = None,
    evaluate_sample: int = DEFAULT_SAMPLE,
    progress: Progress = NO_PROGRESS,
) -> DemoResult:
    """Generate ``n_sessions`` synthetic sessions (default: the generator's, 30,000), run both
    modes and score the recovery.

    When ``no_funnel`` runs, every attribution method is also scored against the planted truth
    on ``evaluate_sample`` test sessions (0: all of them; negative: skip this comparison).
    """
    out_dir = Path(out_dir)
    config = demo_config(out_dir, seed=seed, **(config_overrides or {}))
    n_sessions = n_sessions or SyntheticSpec().n_sessions
    events, truth = generate_events(seed=seed, n_sessions=n_sessions)
    write_parquet(events, config.input.path)
    frame = read_events(events, config, compact=True)
    results, comparison = run_modes(frame, config, config.output.modes, progress=progress)
    reference = results.get("no_funnel") or next(iter(results.values()))
    test_sessions = reference.session_table.loc[
        reference.session_table["split"] == "test", "session_id"
    ]
    oracle_auc = truth.oracle_auc(test_sessions.to_numpy())
    truth.to_json(out_dir / "data" / "ground_truth.json", oracle_auc=oracle_auc)
    demo = DemoResult(
        out_dir=out_dir,
        results=results,
        truth=truth,
        oracle_auc=oracle_auc,
        comparison=comparison,
    )
    demo.recovery = {mode: recovery_scores(r.tables, truth) for mode, r in results.items()}
    summary = {
        "seed": seed,
        "n_sessions": n_sessions,
        "oracle_auc": oracle_auc,
        "modes": demo.summary_rows(),
        "recovery": demo.recovery,
    }
    if comparison is not None:
        summary["verdict"] = comparison.verdict
    if "no_funnel" in results and evaluate_sample >= 0:
        run = results["no_funnel"]
        demo.method_recovery = evaluate_methods(
            run.model,
            run.sessions,
            run.session_table["split"],
            run.encoded,
            truth,
            config,
            sample=evaluate_sample,
            progress=progress,
        )
        write_csv(demo.method_recovery, out_dir / "outputs" / "method_recovery_no_funnel.csv")
        summary["method_recovery"] = demo.method_recovery.to_dict("records")
    write_json(summary, out_dir / "demo_summary.json")
    return demo
