"""One run, end to end: events → sessions → tensors → model → attributions → tables → outputs.

:func:`run` is the library's main entry point; each stage is an importable function of its own
module, and this file only wires them together, times them and collects the run summary.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from eventlift.analysis.baselines import fit_baselines
from eventlift.analysis.caveats import drop_unsupported_tables, run_warnings
from eventlift.analysis.leakage import detect_leaks, summary_records
from eventlift.analysis.tables import attribution_tables
from eventlift.analysis.trust import faithfulness_scorecard, triangulation
from eventlift.attribution import (
    AttributionResult,
    attribute_sessions,
    event_level_frame,
    get_attributor,
)
from eventlift.config import MODES, Config, load_config
from eventlift.core.memory import release_freed_memory
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.core.timer import StageTimer
from eventlift.data.encode import EncodedSessions
from eventlift.data.prepare import prepare_sessions, settle_and_announce, settle_columns
from eventlift.data.readers import read_events, read_stores
from eventlift.data.sessions import (
    SessionData,
)
from eventlift.exceptions import ConfigError
from eventlift.model.batching import select_device
from eventlift.model.trainer import classification_metrics, predict_logits, seed_everything, train
from eventlift.model.transformer import EventTransformer
from eventlift.report.html import build_report
from eventlift.workflow.comparison import (
    COMPARISON_FILE,
    ModeComparison,
    compare_modes,
    funnel_events,
    funnel_shares,
    write_comparison,
)
from eventlift.workflow.outputs import build_summary, write_outputs, write_summary
from eventlift.workflow.result import RunResult
from eventlift.workflow.stability import seed_stability

__all__ = [
    "RunResult",
    "compare",
    "finish_outputs",
    "resolve_config",
    "run",
    "run_modes",
]

log = logging.getLogger(__name__)


def resolve_config(config: Config | dict | str | Path | None) -> Config:
    """Accept a :class:`Config`, a nested dict, or a path to a TOML file."""
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return Config.from_dict(config)
    return load_config(config)


def _find_leaks(data: SessionData, sessions: pd.DataFrame, config: Config) -> list[dict]:
    """Single-event leakage probe on the training split (DESIGN §7)."""
    train_sessions = sessions[sessions["split"] == "train"]
    events = data.events[data.events["session_id"].isin(train_sessions["session_id"])]
    return summary_records(detect_leaks(events, train_sessions), set(funnel_events(events, config)))


def _trust_checks(
    model: EventTransformer,
    encoded: EncodedSessions,
    data: SessionData,
    sessions: pd.DataFrame,
    scores: AttributionResult,
    tables: dict[str, pd.DataFrame],
    config: Config,
) -> dict[str, Any]:
    """Faithfulness scorecard and multi-touch triangulation of one run (DESIGN §5)."""
    split = config.attribution.split
    chosen = sessions if split == "all" else sessions[sessions["split"] == split]
    events = data.events[data.events["session_id"].isin(chosen["session_id"])]
    credit, agreement = triangulation(events, chosen, tables["event_type"])
    checks: dict[str, Any] = {
        "tables": {
            "triangulation": credit,
            "rank_agreement": agreement.rename_axis("method").reset_index(),
        },
        "triangulation": {"kendall_tau": agreement.to_dict()},
        "completeness_gap": scores.completeness_gap,
    }
    if config.attribution.faithfulness_sessions:
        report, removal = faithfulness_scorecard(
            model,
            encoded,
            scores.raw,
            method=scores.method,
            split=split,
            sample=config.attribution.faithfulness_sessions,
            seed=config.train.seed,
        )
        checks["faithfulness"] = report
        checks["tables"]["event_type_removal"] = removal
    return checks


def run(
    events: pd.DataFrame | Any | None = None,
    config: Config | dict | str | Path | None = None,
    *,
    mode: str | None = None,
    method: str | None = None,
    write: bool = True,
    progress: Progress = NO_PROGRESS,
) -> RunResult:
    """Train, explain and roll up one mode; write the outputs unless ``write=False``.

    Parameters
    ----------
    events : a canonical-mappable DataFrame, Arrow table or file path; ``None`` reads
        ``[input]`` from the config.
    config : :class:`Config`, dict or TOML path.
    mode : ``"no_funnel"`` or ``"with_funnel"``; default the first of ``[output] modes``.
    method : attribution method by name; default ``[attribution] method``.
    """
    config = resolve_config(config)
    if method:
        config = config.replace(attribution={"method": method})
    mode = mode or config.output.modes[0]
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}.")
    timer = StageTimer()
    with timer.stage("read"):
        frame = read_events(events, config, compact=True)
        stores = read_stores(config.input.stores) if config.input.stores else None
    config = settle_and_announce(config, frame, progress)
    result = run_prepared(
        frame, config, mode, stores=stores, timer=timer, write=write, progress=progress
    )
    if write:
        finish_outputs({mode: result}, config)
    return result


def compare(
    events: pd.DataFrame | Any | None = None,
    config: Config | dict | str | Path | None = None,
    *,
    method: str | None = None,
    progress: Progress = NO_PROGRESS,
    keep_arrays: bool = False,
) -> tuple[dict[str, RunResult], ModeComparison]:
    """Run ``no_funnel`` and ``with_funnel`` on one read of ``events`` and compare them.

    Writes both modes' outputs, ``comparison.json`` and ``report.html`` (DESIGN §7); returns the
    results by mode and the comparison with its verdict. The first mode's per-event arrays are
    released once its outputs are written (memory then holds one mode's arrays at a time; its
    event-level table stays in its Parquet file) unless ``keep_arrays`` is True.
    """
    config = resolve_config(config)
    if method:
        config = config.replace(attribution={"method": method})
    frame = read_events(events, config, compact=True)  # held while both modes run
    stores = read_stores(config.input.stores) if config.input.stores else None
    results, comparison = run_modes(
        frame, config, list(MODES), stores=stores, progress=progress, keep_arrays=keep_arrays
    )
    assert comparison is not None  # both modes ran
    return results, comparison


def run_modes(
    frame: pd.DataFrame,
    config: Config,
    modes: list[str],
    *,
    stores: pd.DataFrame | None = None,
    progress: Progress = NO_PROGRESS,
    keep_arrays: bool = True,
) -> tuple[dict[str, RunResult], ModeComparison | None]:
    """Run several modes on one read of the events, then write the comparison and the report.

    With ``keep_arrays=False`` every mode but the last releases its per-event arrays once its
    outputs are written (:meth:`RunResult.release_arrays`).
    """
    config = settle_and_announce(config, frame, progress)
    results = {}
    for mode in modes:
        progress.note(f"mode {mode}")
        results[mode] = run_prepared(frame, config, mode, stores=stores, progress=progress)
        if not keep_arrays and mode != modes[-1]:
            results[mode].release_arrays()
            release_freed_memory()
    return results, finish_outputs(results, config)


def finish_outputs(results: dict[str, RunResult], config: Config) -> ModeComparison | None:
    """Write the mode comparison (when both modes ran) and rebuild ``report.html``.

    A ``comparison.json`` left by an earlier run is removed when this run has no comparison, so
    the report never shows a verdict about other results.
    """
    comparison = None
    root = Path(config.output.dir)
    if {"no_funnel", "with_funnel"} <= set(results):
        comparison = compare_modes(results, config)
        write_comparison(comparison, root)
    else:
        (root / COMPARISON_FILE).unlink(missing_ok=True)
    build_report(root, modes=list(results))
    return comparison


def run_prepared(
    frame: pd.DataFrame,
    config: Config,
    mode: str,
    *,
    stores: pd.DataFrame | None = None,
    timer: StageTimer | None = None,
    write: bool = True,
    progress: Progress = NO_PROGRESS,
) -> RunResult:
    """:func:`run` on an already-read canonical event frame (lets several modes share one read)."""
    timer = timer or StageTimer()
    config = settle_columns(config, frame)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    source = config.input.path or "input"
    with timer.stage("sessions"):
        data, split, encoded = prepare_sessions(frame, config, mode, source=source)
    device = select_device(config.train.device)
    seed_everything(config.train.seed)
    vocab_sizes = {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
    model = EventTransformer(config.model, vocab_sizes, config.sessions.max_len).to(device)
    with timer.stage("train"):
        training = train(model, encoded, config.train, device=device, progress=progress)
    with timer.stage("evaluate"):
        test_rows = encoded.indices("test")
        test = classification_metrics(
            encoded.labels[test_rows], predict_logits(model, encoded, test_rows, device=device)
        )
        metrics = {
            "test_auc": test["auc"],
            "test_pr_auc": test["pr_auc"],
            "test_log_loss": test["log_loss"],
            "val_auc": training.best_val_auc,
            "best_epoch": training.best_epoch,
        }
    with timer.stage("baselines"):
        labelled = data.sessions.assign(split=split.to_numpy())
        baselines = fit_baselines(data.events, labelled, seed=config.train.seed)
    with timer.stage("leakage"):
        leakage = _find_leaks(data, labelled, config)
    with timer.stage("attribution"):
        attributor = get_attributor(config.attribution.method, model)
        scores = attribute_sessions(
            attributor,
            encoded,
            batch_size=config.attribution.batch_size,
            device=device,
            progress=progress,
        )
    with timer.stage("tables"):
        chosen_sessions = None
        if config.attribution.split != "all":
            chosen_sessions = np.flatnonzero(split.to_numpy() == config.attribution.split)
        chosen = event_level_frame(data, split, scores, chosen_sessions)
        tables = attribution_tables(
            chosen,
            position_buckets=config.attribution.position_buckets,
            min_support=config.attribution.min_support,
            bootstrap=config.attribution.bootstrap,
            seed=config.train.seed,
            stores=stores,
        )
        tables, skipped = drop_unsupported_tables(tables, config)
        funnel_share = funnel_shares(chosen, data, config)
        del chosen
    with timer.stage("trust"):
        trust = _trust_checks(model, encoded, data, labelled, scores, tables, config)
        tables.update(trust.pop("tables"))
    if config.attribution.stability_seeds:
        with timer.stage("stability"):
            run_lifts = tables["event_type"].set_index("event")["lift"]
            tables["seed_stability"], trust["seed_stability"] = seed_stability(
                data, split, encoded, config, run_lifts, metrics["test_auc"], device=device
            )
    result = RunResult(
        mode=mode,
        tables=tables,
        metrics=metrics,
        baselines=baselines,
        leakage=leakage,
        summary={},
        model=model,
        sessions=data,
        session_table=labelled,
        encoded=encoded,
        attribution=scores,
    )
    result.summary = build_summary(result, config, training, timer.seconds)
    result.summary.update(trust)
    result.summary["attribution"].update(funnel_share)
    result.summary["skipped_outputs"] = skipped
    result.summary["warnings"] = run_warnings(result.summary, tables["event_type"], config)
    if write:
        with timer.stage("write"):
            result.files = write_outputs(result, config)
        result.summary["timings_s"] = dict(timer.seconds)
        result.files["run_summary"] = write_summary(result, config)
    return result
