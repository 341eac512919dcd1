"""``[input] query`` against a real PostgreSQL server: streamed in batches, read once, clear errors.

Needs the server of scripts/start-postgres.sh (skipped without it, failed under CI).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from eventlift.config import Config
from eventlift.data.readers import read_events
from eventlift.data.warehouse import read_query
from eventlift.exceptions import ConfigError, DataError, MissingColumnError
from eventlift.sinks.warehouse import write_result_tables
from support.logs import random_log
from support.warehouse import fresh_schema, postgres_url

sa = pytest.importorskip("sqlalchemy")

COLUMNS = {
    "user_id": "user_id",
    "event_category": "event_category",
    "store_id": "store_id",
    "store_name": "store_name",
}


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_url()


@pytest.fixture(scope="module")
def logged(pg_url):
    """A small event log stored in PostgreSQL (timestamps as timestamptz), and the frame."""
    events = random_log(40, seed=3)
    for schema in fresh_schema(pg_url):
        write_result_tables(pg_url, {"events": events}, None, schema=schema)
        yield schema, events


def settings(**input_keys) -> Config:
    return Config.from_dict({"input": input_keys, "columns": COLUMNS})


def test_query_is_streamed_through_a_server_side_cursor(pg_url, logged):
    schema, events = logged
    sizes, cursors = [], []
    watcher = sa.create_engine(pg_url)

    def on_batch(batch):
        sizes.append(batch.num_rows)
        with watcher.connect() as connection:  # another session sees the open cursor
            cursors.append(
                connection.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND (query LIKE 'FETCH FORWARD%%' OR query LIKE 'DECLARE%%')"
                ).scalar()
            )

    query = f'SELECT * FROM "{schema}".events ORDER BY row_number'
    table = read_query(pg_url, query, fetch_rows=7, on_batch=on_batch)
    watcher.dispose()
    assert table.num_rows == len(events) == sum(sizes)
    assert len(sizes) == math.ceil(len(events) / 7) and max(sizes) == 7
    assert table.column("session_id").num_chunks == len(sizes)  # joined once, not copied
    assert all(count >= 1 for count in cursors)


def test_events_from_postgres_equal_events_from_a_file(pg_url, logged, tmp_path):
    schema, events = logged
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    query = f'SELECT * FROM "{schema}".events ORDER BY row_number'
    from_sql = read_events(None, settings(query=query, database=pg_url, fetch_rows=7))
    from_file = read_events(path, settings())
    pd.testing.assert_frame_equal(from_sql, from_file)
    assert len(from_sql) == len(events)


def test_sql_error_names_the_masked_url_query_and_fix(pg_url, logged):
    url = pg_url.replace("postgres@", "postgres:hunter2@")  # trust auth ignores the password
    with pytest.raises(DataError) as err:
        read_events(None, settings(query="SELECT * FROM no_such_table", database=url))
    message = str(err.value)
    assert "hunter2" not in message and "postgres:***@" in message
    assert "running the query failed" in message and "no_such_table" in message
    assert "Fix: correct [input] query" in message


def test_missing_column_names_the_source(pg_url, logged):
    schema, _ = logged
    query = f'SELECT session_id, "timestamp" FROM "{schema}".events'
    with pytest.raises(
        MissingColumnError, match=r"(?s)query on postgresql\+psycopg://.*role 'event'"
    ):
        read_events(None, settings(query=query, database=pg_url))


def test_unusable_urls_are_config_errors():
    with pytest.raises(ConfigError, match=r"no SQLAlchemy dialect 'nosuchdb'.*Fix"):
        read_events(None, settings(query="SELECT 1", database="nosuchdb://u:pw@host/db"))
    with pytest.raises(ConfigError, match=r"not a valid database URL.*Fix"):
        read_events(None, settings(query="SELECT 1", database="postgresql+psycopg://h:notaport/d"))
    with pytest.raises(ConfigError, match=r"\[input\] fetch_rows must be positive"):
        settings(query="SELECT 1", database="postgresql://h/d", fetch_rows=0)


def test_connection_refused_is_a_data_error_with_masked_password():
    url = "postgresql+psycopg://ana:s3cret@127.0.0.1:1/db"
    with pytest.raises(DataError, match=r"(?s)ana:\*\*\*@127\.0\.0\.1:1/db: connecting failed"):
        read_query(url, "SELECT 1")
