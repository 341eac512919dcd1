"""One Spark run: read → sessions → train → attribute → tables → trust checks → outputs.

Outputs keep the local names and schemas: ``event_attribution_<mode>`` (the event-level rows),
``event_type_attribution_<mode>``, ``position_attribution_<mode>``, ``store_attribution_<mode>``,
``event_position_attribution_<mode>`` and ``event_position_matrix_<mode>``, written as Parquet
folders under ``[output] dir``/outputs, as Delta folders, as catalog tables named
``[spark] table_prefix`` + name, or through JDBC into a database (:mod:`eventlift.spark.jdbc`).

The driver writes under ``[output] dir`` (a local or ``/dbfs`` path) what the local run writes
there, so that ``eventlift report`` reads a Spark folder like a local one: the checkpoint, the
small tables (every table but the event-level one) and the event-type removal table as the local
CSV files, the plot, ``run_summary_<mode>.json`` with the leakage probe, baselines and faithfulness
of :mod:`eventlift.spark.trust`, and finally ``report.html``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventlift.config import MODES, Config
from eventlift.core.atomic import write_json
from eventlift.core.output_names import file_stem, table_stem
from eventlift.core.timer import StageTimer
from eventlift.core.versions import package_versions
from eventlift.exceptions import ConfigError
from eventlift.model.calibration import Calibrator, calibrate
from eventlift.model.capacity import settle_capacity
from eventlift.model.trainer import TrainResult
from eventlift.model.transformer import EventTransformer
from eventlift.spark.prepare import SparkSessions
from eventlift.spark.settings import SparkSettings

__all__ = ["SparkRunResult", "run"]

logger = logging.getLogger(__name__)


@dataclass
class SparkRunResult:
    """Spark DataFrames of the run's tables (as written), the model and the run summary."""

    mode: str
    tables: dict[str, Any]
    model: EventTransformer
    summary: dict[str, Any]
    locations: dict[str, str] = field(default_factory=dict)


def run(
    spark: Any,
    events: Any,
    config: Config,
    *,
    settings: SparkSettings | None = None,
    mode: str | None = None,
    write: bool = True,
) -> SparkRunResult:
    """Run one mode on Spark.

    Parameters
    ----------
    spark : the active SparkSession.
    events : a DataFrame, a catalog table name, a path (Parquet, CSV, JSON lines, Delta) or
        None for ``[spark] input_table`` / ``[input] path``.
    config : the run configuration; ``settings`` the ``[spark]`` section (defaults when None).
    mode : ``no_funnel`` or ``with_funnel``; default the first of ``[output] modes``.
    write : write the tables, the driver's files and ``report.html`` (module docstring); with
        False only the returned result holds the run.
    """
    from eventlift.spark.canonical import load_events, to_canonical
    from eventlift.spark.prepare import prepare_sessions
    from eventlift.spark.train import training_sessions

    settings = settings or SparkSettings()
    mode = mode or config.output.modes[0]
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}.")
    timer = StageTimer()
    with timer.stage("read"):
        source = events if events is not None else settings.input_table
        frame, label = load_events(spark, source, config)
        canonical = to_canonical(frame, config, source=label)
    with timer.stage("sessions"):
        prepared = prepare_sessions(canonical, config, mode, source=label)
    config = prepared.config  # a left-out [columns] session_id settled against the input
    config, capacity = settle_capacity(config, training_sessions(prepared, settings))
    with timer.stage("train"):
        model, training = _train(prepared, config, settings, mode)
    with timer.stage("calibration"):
        calibrator, calibration = _calibrate(prepared, model, config)
    tables, metrics, skipped = _explain(
        spark, prepared, model, config, settings, timer, training, calibrator
    )
    summary, removal = _checked_summary(
        spark, prepared, model, config, settings, timer, training, tables, metrics, skipped, mode
    )
    summary["capacity"] = capacity
    summary["calibration"] = calibration
    result = SparkRunResult(mode, tables, model, summary)
    if write:
        with timer.stage("write"):
            _write_outputs(result, prepared, config, settings, removal)
    summary["timings_s"] = dict(timer.seconds)
    if write:
        path = Path(config.output.dir) / "outputs" / f"run_summary_{mode}.json"
        result.locations["run_summary"] = str(write_json(summary, path))
        result.locations["report"] = str(_rebuild_report(Path(config.output.dir)))
    prepared.sessions.unpersist()
    for table in tables.values():
        table.unpersist()
    return result


def _train(
    prepared: SparkSessions, config: Config, settings: SparkSettings, mode: str
) -> tuple[EventTransformer, TrainResult]:
    """The model, trained on the driver or by ``TorchDistributor`` as ``[spark] train`` says."""
    from eventlift.spark.train import train_distributed, train_on_driver

    if settings.train == "distributor":
        staging = settings.staging_dir or os.path.join(config.output.dir, "spark_staging", mode)
        return train_distributed(prepared, config, settings, staging)
    return train_on_driver(prepared, config, settings)


def _calibrate(
    prepared: SparkSessions, model: EventTransformer, config: Config
) -> tuple[Calibrator, dict[str, Any]]:
    """The local run's calibration, fitted and measured on the driver: on every validation and
    test session up to ``[train] validation_sessions`` of each (a seeded sample above that)."""
    from eventlift.model.trainer import predict_logits
    from eventlift.spark.train import collect_encoded

    def scored(split: str) -> tuple[np.ndarray, np.ndarray]:
        encoded = collect_encoded(
            prepared, config, splits=(split,), limit=config.train.validation_sessions
        )
        return predict_logits(model, encoded, np.arange(len(encoded))), encoded.labels

    return calibrate(
        scored("validation"), scored("test"), config.train.calibration, config.train.seed
    )


def _explain(
    spark: Any,
    prepared: SparkSessions,
    model: EventTransformer,
    config: Config,
    settings: SparkSettings,
    timer: StageTimer,
    training: TrainResult,
    calibrator: Calibrator,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The event-level scores of every session, the test metrics, the tables (lazy frames) and
    the tables left out, with why."""
    from eventlift.analysis.caveats import drop_unsupported_tables
    from eventlift.spark.attribute import attribute_spark
    from eventlift.spark.tables import attribution_tables_spark

    with timer.stage("attribution"):
        event_level = attribute_spark(
            prepared.sessions,
            model,
            method=config.attribution.method,
            batch_size=config.attribution.batch_size,
            threads=settings.task_threads,
            calibrator=calibrator,
        ).cache()
        metrics = {**_test_metrics(event_level), "val_auc": training.best_val_auc,
                   "best_epoch": training.best_epoch}  # fmt: skip
    with timer.stage("tables"):  # the per-side session counts; the tables run when written
        chosen = event_level
        if config.attribution.split != "all":
            chosen = event_level.filter(event_level["split"] == config.attribution.split)
        stores = spark.read.parquet(config.input.stores) if config.input.stores else None
        tables = {
            "event_level": event_level,
            **attribution_tables_spark(
                chosen,
                position_buckets=config.attribution.position_buckets,
                min_support=config.attribution.min_support,
                stores=stores,
            ),
        }
        # the emptiness check computes the store table: cache it for the write that follows
        store = tables["store"] = tables["store"].cache()
        tables, skipped = drop_unsupported_tables(tables, config, is_empty=lambda t: t.isEmpty())
        if "store" not in tables:
            store.unpersist()
    return tables, metrics, skipped


def _checked_summary(
    spark: Any,
    prepared: SparkSessions,
    model: EventTransformer,
    config: Config,
    settings: SparkSettings,
    timer: StageTimer,
    training: TrainResult,
    tables: dict[str, Any],
    metrics: dict[str, Any],
    skipped: dict[str, str],
    mode: str,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The leakage probe, the baselines and the trust checks, in the local run's summary.

    Returns the summary and the event-type removal table (None when faithfulness is off).
    """
    from eventlift.analysis.caveats import run_warnings
    from eventlift.spark.trust import fit_baselines_spark, probe_leaks, score_faithfulness
    from eventlift.workflow.summary import summary_core

    with timer.stage("leakage"):
        presence, leakage, session_end = probe_leaks(prepared, config, mode)
    with timer.stage("baselines"):
        baselines, test = fit_baselines_spark(prepared, config, settings)
        verdict = _verdict(tables["event_level"], baselines, test)
    with timer.stage("trust"):
        checks, removal = score_faithfulness(prepared, model, config)
    summary = summary_core(
        mode=mode,
        config=config,
        counts={**prepared.counts, "sessions_by_split": prepared.split_counts},
        metrics=metrics,
        baselines=baselines,
        leakage=leakage,
        training=training,
        timings=timer.seconds,
        versions=package_versions(spark=spark.version),
    )
    summary.update(engine="spark", spark=settings.__dict__, baseline_verdict=verdict)
    summary.update(**checks, skipped_outputs=skipped, session_end=session_end)
    if mode == "with_funnel":  # the funnel steps the sessions kept, as the local summary lists
        summary["attribution"]["funnel_events"] = sorted(presence.loc[presence["funnel"], "event"])
    summary["warnings"] = run_warnings(summary, tables["event_type"].limit(2).toPandas(), config)
    return summary, removal


def _verdict(event_level: Any, baselines: dict[str, Any], test: pd.DataFrame) -> dict[str, Any]:
    """The Transformer against the validation-chosen baseline on the baselines' test sample."""
    from pyspark.sql import functions as F

    from eventlift.analysis.auc_compare import verdict_against_baseline

    first = event_level.filter((F.col("split") == "test") & (F.col("position") == 1))
    found = first.select("session_id", "predicted_probability").toPandas()
    ours = test[["session_id"]].merge(found, on="session_id", how="left")["predicted_probability"]
    labels = test["converted"].to_numpy(dtype=bool)
    scores = {name: test[name].to_numpy() for name in baselines}
    return verdict_against_baseline(labels, ours.to_numpy(dtype=float), baselines, scores)


def _write_outputs(
    result: SparkRunResult,
    prepared: SparkSessions,
    config: Config,
    settings: SparkSettings,
    removal: pd.DataFrame | None,
) -> None:
    """The checkpoint, every table where ``[spark] write`` says, and the driver's copies."""
    from eventlift.model.checkpoint import save_checkpoint

    mode = result.mode
    outputs = Path(config.output.dir) / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        outputs / f"best_transformer_{mode}",
        result.model,
        prepared.vocabularies,
        {"mode": mode, "metrics": result.summary["metrics"], "config": config.to_public_dict()},
    )
    small = {}
    for key, table in result.tables.items():
        if key != "event_level":  # small: cached once for the driver's copy and the write
            small[key] = table.cache().toPandas()
        result.locations[key] = _write(table, f"{table_stem(key)}_{mode}", config, settings)
    if removal is not None:
        small["event_type_removal"] = removal
    _write_driver_tables(small, config, mode)


def _test_metrics(event_level: Any) -> dict[str, float]:
    """Test ROC AUC, PR AUC and log loss over sessions, computed in Spark."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F

    test = event_level.filter((F.col("split") == "test") & (F.col("position") == 1)).select(
        F.col("converted").cast("double").alias("label"),
        F.col("predicted_probability").alias("score"),
    )
    metrics = {}
    for name, key in (("test_auc", "areaUnderROC"), ("test_pr_auc", "areaUnderPR")):
        evaluator = BinaryClassificationEvaluator(
            rawPredictionCol="score", labelCol="label", metricName=key
        )
        metrics[name] = float(evaluator.evaluate(test))
    p = F.least(F.greatest(F.col("score"), F.lit(1e-7)), F.lit(1 - 1e-7))
    loss = -(F.col("label") * F.log(p) + (1 - F.col("label")) * F.log(1 - p))
    metrics["test_log_loss"] = float(test.agg(F.avg(loss)).first()[0])
    return metrics


def _write_driver_tables(small: dict[str, pd.DataFrame], config: Config, mode: str) -> None:
    """The small tables as the local run's CSV files, and its plot, under ``[output] dir``."""
    from eventlift.core.atomic import write_csv
    from eventlift.report.plots import plot_attribution_panels

    root = Path(config.output.dir)
    for key, frame in small.items():
        write_csv(frame, root / "outputs" / f"{file_stem(key)}_{mode}.csv")
    if config.output.write_plots:
        plot_attribution_panels(
            small, root / "plots" / f"attention_attribution_analysis_{mode}.png", mode=mode
        )


def _rebuild_report(root: Path) -> Path:
    """``report.html`` over every run summary in the folder, as ``eventlift report`` builds it.

    A Spark run compares no modes, so a ``comparison.json`` left by an earlier local run is
    removed, as the local run does, rather than shown beside results it did not see.
    """
    from eventlift.report.html import build_report
    from eventlift.workflow.comparison import COMPARISON_FILE

    (root / COMPARISON_FILE).unlink(missing_ok=True)
    return build_report(root)


def _write(table: Any, name: str, config: Config, settings: SparkSettings) -> str:
    """Write one table; a Parquet folder is replaced only once the new one is complete."""
    if settings.write == "jdbc":
        from eventlift.spark.jdbc import write_jdbc

        return write_jdbc(table, name, settings)
    if settings.write == "table":
        target = f"{settings.table_prefix}{name}"
        table.write.mode("overwrite").saveAsTable(target)
        return target
    target = os.path.join(config.output.dir, "outputs", name)
    if settings.write == "delta":
        table.write.format("delta").mode("overwrite").save(target)
        return target
    target += ".parquet"
    staging = target + ".incoming"
    table.write.mode("overwrite").parquet(staging)
    spark = table.sparkSession
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(target)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if fs.exists(path):
        fs.delete(path, True)
    fs.rename(jvm.org.apache.hadoop.fs.Path(staging), path)
    return target
