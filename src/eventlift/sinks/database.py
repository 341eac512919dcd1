"""Result tables in a DuckDB file, each replaced only once its new version is complete.

Every table is first written under a temporary name, then the old table is dropped and the new
one renamed, and the run's row is appended to the ``runs`` table, all inside one transaction: a
query running against the file sees either the old tables or the new ones, and a failure half-way
leaves the old ones in place. Other databases: :mod:`eventlift.sinks.warehouse`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from eventlift.core.sql import check_identifier
from eventlift.sinks.runs import RUNS_COLUMNS

__all__ = ["quote_identifier", "write_duckdb_tables"]

_DUCKDB_TYPES = {"text": "VARCHAR", "timestamp": "TIMESTAMPTZ", "float": "DOUBLE", "int": "BIGINT"}


def quote_identifier(name: str, key: str = "table name") -> str:
    """Quote a name for SQL; names are checked to be plain identifiers first."""
    return '"' + check_identifier(name, key).replace('"', '""') + '"'


def write_duckdb_tables(
    path: str | Path,
    tables: dict[str, pd.DataFrame | Path],
    run_record: dict[str, Any] | None = None,
    *,
    schema: str | None = None,
    runs_table: str = "runs",
    drop: Sequence[str] = (),
) -> Path:
    """Create or replace ``tables`` (name -> frame) in the DuckDB file at ``path``, and drop
    the tables named in ``drop`` when present (result tables this run leaves out).

    A table given as the path of a Parquet file is loaded by DuckDB straight from the file (how
    the event-level table goes in without being held in memory).

    ``run_record`` (see :func:`eventlift.sinks.runs.run_record`), when given, is appended to
    ``runs_table`` in the same transaction; ``schema`` puts every table in that schema.
    """
    import duckdb

    prefix = quote_identifier(schema, "[output] schema") + "." if schema else ""
    runs = prefix + quote_identifier(runs_table, "[output] runs_table")
    names = {
        name: (prefix + quote_identifier(name), prefix + quote_identifier(f"{name}__staging"))
        for name in tables
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.execute("BEGIN TRANSACTION")
        try:
            if schema:
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix[:-1]}")
            for name, frame in tables.items():
                table, staging = names[name]
                if isinstance(frame, Path):
                    connection.read_parquet(str(frame)).create_view("incoming_frame")
                else:
                    connection.register("incoming_frame", frame)
                connection.execute(f"DROP TABLE IF EXISTS {staging}")
                connection.execute(f"CREATE TABLE {staging} AS SELECT * FROM incoming_frame")
                connection.execute('DROP VIEW IF EXISTS "incoming_frame"')
                connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.execute(f"ALTER TABLE {staging} RENAME TO {quote_identifier(name)}")
            for name in drop:
                connection.execute(f"DROP TABLE IF EXISTS {prefix}{quote_identifier(name)}")
            if run_record is not None:
                _append_run(connection, runs, schema or "main", runs_table, run_record, tables)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return path


def _append_run(
    connection: Any,
    runs: str,
    schema: str,
    runs_table: str,
    record: dict[str, Any],
    tables: dict[str, pd.DataFrame | Path],
) -> None:
    """Append ``record`` to the runs table (created when missing); values are bound parameters."""
    columns = ", ".join(
        f"{quote_identifier(name)} {_DUCKDB_TYPES[kind]}" for name, kind in RUNS_COLUMNS.items()
    )
    connection.execute(f"CREATE TABLE IF NOT EXISTS {runs} ({columns})")
    present = {
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, runs_table],
        ).fetchall()
    }
    row = {**record, "tables": record.get("tables") or ",".join(tables)}
    row = {key: value for key, value in row.items() if key in present}
    names = ", ".join(quote_identifier(key, "runs column") for key in row)
    marks = ", ".join("?" for _ in row)
    connection.execute(f"INSERT INTO {runs} ({names}) VALUES ({marks})", list(row.values()))
