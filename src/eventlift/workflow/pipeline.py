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

from eventlift.analysis.auc_compare import verdict_against_baseline
from eventlift.analysis.baselines import fit_baselines
from eventlift.analysis.caveats import drop_unsupported_tables, run_warnings
from eventlift.analysis.effects import add_effects
from eventlift.analysis.scoring import score_sessions, tabulate_scores
from eventlift.analysis.trust import find_leaks, trust_checks
from eventlift.attribution import AttributionResult
from eventlift.config import MODES, Config, load_config
from eventlift.core.memory import release_freed_memory
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.core.timer import StageTimer
from eventlift.data.encode import EncodedSessions
from eventlift.data.prepare import prepare_sessions, settle_and_announce, settle_columns
from eventlift.data.readers import read_events, read_stores
from eventlift.data.sessions import SessionData
from eventlift.exceptions import ConfigError
from eventlift.model.batching import select_device
from eventlift.model.calibration import Calibrator, calibrate
from eventlift.model.capacity import settle_capacity
from eventlift.model.trainer import (
    TrainResult,
    classification_metrics,
    predict_logits,
    seed_everything,
    train,
)
from eventlift.model.transformer import EventTransformer
from eventlift.report.html import build_report
from eventlift.workflow.comparison import (
    COMPARISON_FILE,
    ModeComparison,
    compare_modes,
    funnel_shares,
    write_comparison,
)
from eventlift.workflow.outputs import write_outputs, write_summary
from eventlift.workflow.result import RunResult
from eventlift.workflow.stability import seed_stability
from eventlift.workflow.summary import build_summary

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

    Writes both modes' outputs, ``comparison.json`` and ``report.html``; returns the
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
    with timer.stage("sessions"):
        data, split, encoded = prepare_sessions(
            frame, config, mode, source=config.input.path or "input"
        )
    config, capacity = settle_capacity(config, len(encoded.indices("train")))
    device = select_device(config.train.device)
    model, training, metrics, test_logits, calibration = _train_and_evaluate(
        encoded, config, timer, device, progress
    )
    labelled = data.sessions.assign(split=split.to_numpy())
    with timer.stage("baselines"):
        baselines = fit_baselines(
            data.events,
            labelled,
            seed=config.train.seed,
            min_count=config.train.min_count,
            keep_scores=True,
        )
        baseline_scores = {name: entry.pop("test_scores") for name, entry in baselines.items()}
        test_labels = encoded.labels[encoded.indices("test")]
        verdict = verdict_against_baseline(test_labels, test_logits, baselines, baseline_scores)
    with timer.stage("leakage"):
        leakage, session_end = find_leaks(data, labelled, config)
    scores, tables, checks = _explain(
        model,
        data,
        split,
        encoded,
        labelled,
        config,
        stores,
        timer,
        device,
        progress,
        calibration[0],
    )
    if config.attribution.stability_seeds:
        with timer.stage("stability"):
            run_lifts = tables["event_type"].set_index("event")["lift"]
            tables["seed_stability"], checks["seed_stability"] = seed_stability(
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
    funnel_share, skipped = checks.pop("funnel_share"), checks.pop("skipped_outputs")
    result.summary = build_summary(result, config, training, timer.seconds)
    result.summary["baseline_verdict"] = verdict
    result.summary["session_end"] = session_end
    result.summary["capacity"] = capacity
    result.summary["calibration"] = calibration[1]
    result.summary.update(checks)
    result.summary["attribution"].update(funnel_share)
    result.summary["skipped_outputs"] = skipped
    result.summary["warnings"] = run_warnings(result.summary, tables["event_type"], config)
    if write:
        with timer.stage("write"):
            result.files = write_outputs(result, config)
        result.summary["timings_s"] = dict(timer.seconds)
        result.files["run_summary"] = write_summary(result, config)
    return result


def _train_and_evaluate(
    encoded: EncodedSessions,
    config: Config,
    timer: StageTimer,
    device: torch.device,
    progress: Progress,
) -> tuple[
    EventTransformer, TrainResult, dict[str, Any], np.ndarray, tuple[Calibrator, dict[str, Any]]
]:
    """A seeded model trained on the training split, its test and validation metrics, its
    logits of the test sessions (in session order), and its calibration on the validation split
    with the summary entry."""
    seed_everything(config.train.seed)
    vocab_sizes = {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
    model = EventTransformer(config.model, vocab_sizes, config.sessions.max_len).to(device)
    with timer.stage("train"):
        training = train(model, encoded, config.train, device=device, progress=progress)
    with timer.stage("evaluate"):
        test_rows = encoded.indices("test")
        test_logits = predict_logits(model, encoded, test_rows, device=device)
        test = classification_metrics(encoded.labels[test_rows], test_logits)
        metrics = {
            "test_auc": test["auc"],
            "test_pr_auc": test["pr_auc"],
            "test_log_loss": test["log_loss"],
            "val_auc": training.best_val_auc,
            "best_epoch": training.best_epoch,
        }
    with timer.stage("calibration"):
        validation_rows = encoded.indices("validation")
        validation_logits = predict_logits(model, encoded, validation_rows, device=device)
        calibration = calibrate(
            (validation_logits, encoded.labels[validation_rows]),
            (test_logits, encoded.labels[test_rows]),
            config.train.calibration,
            config.train.seed,
        )
    return model, training, metrics, test_logits, calibration


def _explain(
    model: EventTransformer,
    data: SessionData,
    split: pd.Series,
    encoded: EncodedSessions,
    labelled: pd.DataFrame,
    config: Config,
    stores: pd.DataFrame | None,
    timer: StageTimer,
    device: torch.device,
    progress: Progress,
    calibrator: Calibrator,
) -> tuple[AttributionResult, dict[str, pd.DataFrame], dict[str, Any]]:
    """Scores of every session, the tables of the chosen split, and the trust checks.

    The checks dict holds the summary entries of :func:`~eventlift.analysis.trust.trust_checks`
    plus ``funnel_share`` (the funnel's share of the attribution) and ``skipped_outputs``.
    """
    with timer.stage("attribution"):  # every session: the event-level output holds them all
        scores = score_sessions(
            model, encoded, config.attribution, device=device, progress=progress
        )
        scores.probabilities = calibrator.probabilities(scores.logits)
    with timer.stage("tables"):
        chosen, tables = tabulate_scores(
            data, split, scores, config.attribution, seed=config.train.seed, stores=stores
        )
        tables, skipped = drop_unsupported_tables(tables, config)
        funnel_share = funnel_shares(chosen, data, config)
        del chosen
    with timer.stage("effects"):
        add_effects(tables, model, encoded, data, split, calibrator, config)
    with timer.stage("trust"):
        checks = trust_checks(model, encoded, data, labelled, scores, tables, config)
        tables.update(checks.pop("tables"))
    return scores, tables, {**checks, "funnel_share": funnel_share, "skipped_outputs": skipped}
