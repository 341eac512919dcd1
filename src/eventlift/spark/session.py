"""The SparkSession the command line uses: the running one, or a new one from ``[spark]``."""

from __future__ import annotations

import os
import sys
from typing import Any

from eventlift.spark.settings import SparkSettings

__all__ = ["get_spark"]


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
    builder = SparkSession.builder.appName("eventlift")
    master = settings.master
    if not master and "--master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        master = "local[*]"
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        # one machine: a few shuffle partitions per core, not the cluster default of 200
        builder = builder.config("spark.sql.shuffle.partitions", 4 * (os.cpu_count() or 1))
    return builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()
