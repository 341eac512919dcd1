"""The PostgreSQL server of the warehouse tests (started by scripts/start-postgres.sh)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/eventlift_test"


def postgres_url() -> str:
    """The test server's URL; skip (fail under CI) when it cannot be reached."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    url = os.environ.get("EVENTLIFT_TEST_POSTGRES_URL", DEFAULT_URL)
    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except sqlalchemy.exc.SQLAlchemyError as exc:
        message = (
            f"PostgreSQL at {url} is not reachable ({type(exc).__name__}). Run "
            f'`eval "$(scripts/start-postgres.sh)"` to start the test server.'
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


def fresh_schema(url: str) -> Iterator[str]:
    """A schema of its own for one test or module (parallel workers never share tables)."""
    import sqlalchemy

    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


def table_names(url: str, schema: str) -> set[str]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        return set(sqlalchemy.inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()
