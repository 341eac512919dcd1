"""The SparkSession the command line uses: the running one, or a new one from ``[spark]``."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from eventlift.spark.settings import SparkSettings

__all__ = ["get_spark", "local_spark"]

# Known and harmless with the pandas eventlift pins (everything it runs was checked): said once in
# docs/spark.md instead of a dozen times per run, on the driver and in every Python worker.
_QUIET = (
    ("PySpark does not yet fully support pandas", FutureWarning),
    ("The copy keyword is deprecated", Warning),
)
_WORKER_WARNINGS = ",".join(f"ignore:{text}:{kind.__name__}" for text, kind in _QUIET)


def _quiet_known_warnings(builder: Any) -> Any:
    """Silence the known pandas-version warnings here and in the workers the builder starts."""
    for text, kind in _QUIET:
        warnings.filterwarnings("ignore", message=text, category=kind)
    return builder.config("spark.executorEnv.PYTHONWARNINGS", _WORKER_WARNINGS)


def get_spark(settings: SparkSettings) -> Any:
    """Return the active session (spark-submit, Databricks) or build one (``[spark] master``).

    A session built here runs its Python workers on this interpreter, so they import the same
    eventlift and torch.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = _quiet_known_warnings(SparkSession.builder.appName("eventlift"))
    master = settings.master
    if not master and "--master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        master = "local[*]"
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        # one machine: a few shuffle partitions per core, not the cluster default of 200
        builder = builder.config("spark.sql.shuffle.partitions", 4 * (os.cpu_count() or 1))
    return builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()


def local_spark(master: str = "local[2]", app_name: str = "eventlift", **conf: Any) -> Any:
    """A quiet local session for tests and benchmarks: UTC, Arrow on, no UI, errors-only logs.

    Shuffle partitions and default parallelism follow the number of cores in ``master`` unless
    ``conf`` sets them; ``conf`` keys use underscores for dots (``driver_memory="4g"``).
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    inside = master.removeprefix("local[").removesuffix("]") if master.startswith("local[") else "1"
    cores = (os.cpu_count() or 1) if inside == "*" else int(inside)
    settings = {
        "spark.sql.shuffle.partitions": cores,
        "spark.default.parallelism": cores,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    settings.update({"spark." + key.replace("_", "."): value for key, value in conf.items()})
    builder = _quiet_known_warnings(SparkSession.builder.master(master).appName(app_name))
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
