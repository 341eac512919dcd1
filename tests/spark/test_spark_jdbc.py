"""``[spark] write = "jdbc"`` against a real PostgreSQL server through its JDBC driver.

Needs the test server (``scripts/start-postgres.sh``) and the PostgreSQL JDBC jar
(``scripts/install-test-packages.sh``), which the shared local SparkSession puts on its class path.
Tables must read back exactly, a second write must replace the first and leave no staging table,
and a write that fails must leave the previous table as it was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventlift.exceptions import ConfigError, DataError
from support.spark import POSTGRES_JAR
from support.warehouse import fresh_schema, postgres_url, table_names

TABLE = "event_type_attribution_no_funnel"


@pytest.fixture(scope="module")
def spark(spark):
    """The shared session, which loads the PostgreSQL driver when it is installed."""
    if not POSTGRES_JAR.is_file():
        pytest.fail(f"{POSTGRES_JAR} is missing: run scripts/install-test-packages.sh")
    return spark


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_url()


@pytest.fixture
def target(pg_url):
    """A fresh schema and the JDBC settings that write into it."""
    import sqlalchemy

    from eventlift.spark.settings import SparkSettings

    for schema in fresh_schema(pg_url):
        engine = sqlalchemy.create_engine(pg_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine.dispose()
        url = sqlalchemy.engine.make_url(pg_url)
        jdbc_url = f"jdbc:postgresql://{url.host}:{url.port}/{url.database}?user={url.username}"
        settings = SparkSettings(
            write="jdbc", jdbc_url=jdbc_url, jdbc_schema=schema, table_prefix="el_"
        )
        settings.check()
        yield settings, schema


def _read(pg_url: str, schema: str) -> pd.DataFrame:
    import sqlalchemy

    engine = sqlalchemy.create_engine(pg_url)
    try:
        query = f'SELECT * FROM "{schema}"."el_{TABLE}" ORDER BY event'
        return pd.read_sql(query, engine)
    finally:
        engine.dispose()


def test_tables_read_back_exactly_and_a_second_write_replaces_the_first(spark, pg_url, target):
    from eventlift.spark.jdbc import write_jdbc

    settings, schema = target
    first = pd.DataFrame(
        {"event": ["a", "b", "c"], "lift": [0.5, -0.125, np.nan], "n_events": [3, 2, 1]}
    )
    assert write_jdbc(spark.createDataFrame(first), TABLE, settings) == f"{schema}.el_{TABLE}"
    back = _read(pg_url, schema)
    pd.testing.assert_frame_equal(back, first, check_dtype=False)
    second = pd.DataFrame({"event": ["x"], "lift": [1.0], "n_events": [7]})
    write_jdbc(spark.createDataFrame(second), TABLE, settings)
    pd.testing.assert_frame_equal(_read(pg_url, schema), second, check_dtype=False)
    assert table_names(pg_url, schema) == {f"el_{TABLE}"}


def test_a_failed_write_leaves_the_previous_table(spark, pg_url, target):
    from pyspark.sql import functions as F

    from eventlift.spark.jdbc import write_jdbc

    settings, schema = target
    kept = pd.DataFrame({"event": ["a"], "lift": [0.5], "n_events": [3]})
    write_jdbc(spark.createDataFrame(kept), TABLE, settings)
    unwritable = spark.createDataFrame(kept).withColumn("extra", F.create_map(F.lit("k"), F.lit(1)))
    with pytest.raises(DataError, match=rf"Writing {schema}\.el_{TABLE}__incoming .* untouched"):
        write_jdbc(unwritable, TABLE, settings)
    pd.testing.assert_frame_equal(_read(pg_url, schema), kept, check_dtype=False)


def test_jdbc_settings_need_a_url_and_plain_names():
    from eventlift.spark.jdbc import jdbc_table_name
    from eventlift.spark.settings import SparkSettings

    with pytest.raises(ConfigError, match="needs jdbc_url"):
        SparkSettings(write="jdbc").check()
    hostile = SparkSettings(write="jdbc", jdbc_url="jdbc:postgresql://h/db", table_prefix='x"; --')
    with pytest.raises(ConfigError, match="not a plain identifier"):
        jdbc_table_name(hostile, TABLE)
    unknown = SparkSettings(write="jdbc", jdbc_url="jdbc:exotic://h/db")
    with pytest.raises(ConfigError, match="jdbc_driver"):
        from eventlift.spark.jdbc import driver_class

        driver_class(unknown)
