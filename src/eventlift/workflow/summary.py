"""The run summary (``run_summary_<mode>.json``) as the local and the Spark run both write it.

:func:`summary_core` lays out what every run reports, in one order: the mode, the resolved
config, the counts, the metrics, the baselines, the leakage probe
and the funnel it suggests declaring, training, the attribution
settings, the stage timings and the versions. The local run fills it from its
:class:`~eventlift.workflow.result.RunResult` (:func:`build_summary`); the Spark run from its
Spark frames, adding its engine and settings. The runs then add the trust checks,
``skipped_outputs`` (file stem -> why the table is left out) and ``warnings`` (a list of
``{"code", "message"}``, see :mod:`eventlift.analysis.caveats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eventlift.analysis.leakage import suggest_funnel
from eventlift.config import Config
from eventlift.core.versions import package_versions
from eventlift.data.encode import vocabulary_coverage
from eventlift.model.trainer import TrainResult

if TYPE_CHECKING:
    from eventlift.workflow.result import RunResult

__all__ = ["build_summary", "summary_core"]


def summary_core(
    *,
    mode: str,
    config: Config,
    counts: Mapping[str, Any],
    metrics: Mapping[str, Any],
    baselines: Mapping[str, Any],
    leakage: list[dict],
    training: TrainResult,
    timings: Mapping[str, float],
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The entries every run summary holds, in the order the file shows them."""
    return {
        "mode": mode,
        "config": config.to_public_dict(),
        "counts": dict(counts),
        "metrics": dict(metrics),
        "baselines": dict(baselines),
        "leakage": leakage,
        "funnel_suggestion": suggest_funnel(
            leakage, config.sessions.funnel_events, config.sessions.use_event_detail
        ),
        "training": {
            "history": training.history,
            "seconds": round(training.seconds, 3),
            "sessions_per_second": round(training.sessions_per_second, 1),
        },
        "attribution": {"method": config.attribution.method, "split": config.attribution.split},
        "timings_s": dict(timings),
        "versions": dict(versions or package_versions()),
    }


def build_summary(
    result: RunResult, config: Config, training: TrainResult, timings: dict[str, float]
) -> dict[str, Any]:
    """The local run's summary: :func:`summary_core` with the counts by split and the
    vocabulary coverage of its sessions."""
    counts = dict(result.sessions.counts)
    split_counts = result.session_table.groupby("split")["converted"].agg(["size", "sum"])
    counts["sessions_by_split"] = {
        split: {"sessions": int(row["size"]), "converted": int(row["sum"])}
        for split, row in split_counts.iterrows()
    }
    counts["vocabulary"] = vocabulary_coverage(result.encoded)
    return summary_core(
        mode=result.mode,
        config=config,
        counts=counts,
        metrics=result.metrics,
        baselines=result.baselines,
        leakage=result.leakage,
        training=training,
        timings=timings,
    )
