"""The Spark tests share one local SparkSession."""

from __future__ import annotations

import pytest

from support.spark import spark_session


@pytest.fixture(scope="session")
def spark():
    return spark_session()
