"""The one local SparkSession of the Spark tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["POSTGRES_JAR", "spark_session"]

POSTGRES_JAR = Path("/usr/share/java/postgresql.jar")


def spark_session():
    """The one local SparkSession of the Spark tests (fails under CI when PySpark is missing)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("pyspark is not installed; install requirements-dev.txt")
        pytest.skip("pyspark is not installed")
    from eventlift.spark.session import local_spark

    jars = {"jars": str(POSTGRES_JAR)} if POSTGRES_JAR.is_file() else {}  # for the JDBC test
    return local_spark("local[2]", "eventlift-tests", **jars)
