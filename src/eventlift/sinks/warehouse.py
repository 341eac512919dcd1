"""Result tables in a warehouse through SQLAlchemy, each replaced once its new data is complete.

:func:`write_result_tables` is the entry point for every database target: a DuckDB file (a path
or ``duckdb:///path``) goes to :mod:`eventlift.sinks.database`, any other SQLAlchemy URL
(``postgresql+psycopg://...``, ``snowflake://...``) is written here.

How a table is replaced depends on whether the dialect runs DDL inside transactions:

* PostgreSQL (and SQLite, DuckDB through SQLAlchemy): one transaction creates every table under a
  staging name (``<name>__staging``), fills it, drops the old tables, renames the staged ones and
  appends the ``runs`` row. Readers see the old tables until the commit and the new ones after
  it; any failure rolls everything back, leaving the old tables and no staging table.
* Snowflake and other dialects whose DDL commits on its own: every table is first written under
  its staging name; if any of them fails, the staging tables are dropped and the old tables were
  never touched. Then each table is replaced in turn (Snowflake: ``ALTER TABLE ... SWAP WITH``,
  atomic per table; others: drop, then rename) and the ``runs`` row is appended. Between two
  swaps a reader may see some tables new and others old.

Rows go in chunks of ``chunk_rows``: PostgreSQL through psycopg's ``COPY ... FROM STDIN``
(several times faster than multi-row INSERTs, see ``benchmarks/warehouse_insert.py``), other
dialects as ``executemany`` INSERTs with bound parameters. Column types follow the frame's dtypes
(:mod:`eventlift.sinks.sqltypes`). Two writers replacing the same tables at once are serialised
by PostgreSQL (the second waits for the first's commit); elsewhere they are not supported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventlift.core.sql import (
    MAX_IDENTIFIER_LENGTH,
    check_identifier,
    create_engine,
    database_error,
    duckdb_file,
    mask_url,
)
from eventlift.exceptions import ConfigError, DataError
from eventlift.sinks.runs import RUNS_COLUMNS
from eventlift.sinks.sqltypes import column_type, python_rows, result_table

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "CHUNK_ROWS",
    "STAGING_SUFFIX",
    "column_type",
    "result_table",
    "runs_table_for",
    "swap_statements",
    "write_result_tables",
    "write_warehouse_tables",
]

CHUNK_ROWS = 20_000
STAGING_SUFFIX = "__staging"
TRANSACTIONAL_DDL = frozenset({"postgresql", "sqlite", "duckdb"})
_KEY = "[output] database"


def write_result_tables(
    target: str,
    tables: dict[str, pd.DataFrame | Path],
    run_record: dict[str, Any] | None = None,
    *,
    schema: str | None = None,
    runs_table: str = "runs",
    chunk_rows: int = CHUNK_ROWS,
    drop: Sequence[str] = (),
) -> str:
    """Replace ``tables`` (name -> frame, or the Path of a Parquet file, read in chunks) at
    ``target``, drop the tables named in ``drop`` when present (result tables this run leaves
    out, so that an earlier run's never reads as this one's) and append ``run_record`` to the
    runs table.

    ``target`` is a DuckDB file path, ``duckdb:///path``, or any SQLAlchemy URL. Returns the
    DuckDB path, or the URL with its password masked. Raises ConfigError for names that are not
    plain identifiers (before anything is written) and for unusable URLs, DataError when the
    database rejects the data (the previous tables are then unchanged).
    """
    path = duckdb_file(target)
    if path is not None:
        from eventlift.sinks.database import write_duckdb_tables

        written = write_duckdb_tables(
            path, tables, run_record, schema=schema, runs_table=runs_table, drop=drop
        )
        return str(written)
    return write_warehouse_tables(
        target,
        tables,
        run_record,
        schema=schema,
        runs_table=runs_table,
        chunk_rows=chunk_rows,
        drop=drop,
    )


def write_warehouse_tables(
    url: str,
    tables: dict[str, pd.DataFrame | Path],
    run_record: dict[str, Any] | None = None,
    *,
    schema: str | None = None,
    runs_table: str = "runs",
    chunk_rows: int = CHUNK_ROWS,
    transactional_ddl: bool | None = None,
    drop: Sequence[str] = (),
) -> str:
    """:func:`write_result_tables` for a SQLAlchemy URL; ``transactional_ddl`` overrides the
    dialect's default strategy (see the module docstring). Returns the masked URL."""
    import sqlalchemy as sa

    names = _checked_names(tables, schema, runs_table)
    dropped = [check_identifier(name, "result table name") for name in drop]
    tables = {
        name: frame
        if isinstance(frame, Path) or all(isinstance(c, str) for c in frame.columns)
        else frame.rename(columns=str)
        for name, frame in tables.items()
    }
    shown = mask_url(url)
    engine = create_engine(url, _KEY)
    dialect = engine.dialect
    one_transaction = (
        dialect.name in TRANSACTIONAL_DDL if transactional_ddl is None else transactional_ddl
    )
    metadata = sa.MetaData()
    staged = {
        name: result_table(
            name + STAGING_SUFFIX, _sample(frame, chunk_rows), metadata, schema, dialect
        )
        for name, frame in zip(names, tables.values(), strict=True)
    }
    runs = runs_table_for(runs_table, metadata, schema)
    step = "connecting"
    try:
        with engine.connect() as connection:
            step = "preparing the schema and the runs table"
            if one_transaction:
                with connection.begin():
                    _prepare(connection, schema, runs)
                    for name, frame in zip(names, tables.values(), strict=True):
                        step = f"writing table {name!r}"
                        _stage(connection, staged[name], frame, chunk_rows)
                    step = "replacing the tables"
                    _swap(connection, names, schema, dropped)
                    step = "appending the runs row"
                    _append_run(connection, runs, run_record, names)
                return shown
            try:
                with connection.begin():
                    _prepare(connection, schema, runs)
                for name, frame in zip(names, tables.values(), strict=True):
                    step = f"writing table {name!r}"
                    with connection.begin():
                        _stage(connection, staged[name], frame, chunk_rows)
            except BaseException:
                _drop_quietly(connection, list(staged.values()))
                raise
            step = "replacing the tables"
            with connection.begin():
                _swap(connection, names, schema, dropped)
            step = "appending the runs row"
            with connection.begin():
                _append_run(connection, runs, run_record, names)
    except (sa.exc.SQLAlchemyError, *_driver_errors(dialect)) as exc:
        raise _write_error(exc, url, step, schema, one_transaction) from None
    finally:
        engine.dispose()
    return shown


def _write_error(
    exc: BaseException, url: str, step: str, schema: str | None, one_transaction: bool
) -> ConfigError | DataError:
    """The error for a failed step, saying what state the tables are in and what to do."""
    where = f" in schema {schema!r}" if schema else ""
    if step in ("connecting", "preparing the schema and the runs table"):
        error: type[ConfigError | DataError] = ConfigError
        outcome = " Nothing was written."
        fix = (
            f"check the host, port, database name and credentials, that the server is running, "
            f"and that the user may create tables{where}"
        )
    else:
        error, fix = DataError, "see the database's message above"
        if one_transaction or step.startswith("writing"):
            outcome = " The previous result tables are unchanged."
        elif step == "replacing the tables":
            outcome = " Some tables may already have been replaced."
        else:
            outcome = " The tables were replaced; the runs row is missing."
        if step.startswith("writing"):
            fix += f" (a value the column cannot hold, or no right to create tables{where})"
        else:
            fix += f"; the user must be allowed to drop and rename tables{where}, and no view may "
            fix += "depend on the result tables"
    return error(
        f"{_KEY} = {mask_url(url)!r}: {step} failed ({database_error(exc, url)}).{outcome} "
        f"Fix: {fix}."
    )


def runs_table_for(name: str, metadata: sa.MetaData, schema: str | None) -> sa.Table:
    """The ``runs`` table definition (see :data:`eventlift.sinks.runs.RUNS_COLUMNS`)."""
    import sqlalchemy as sa

    types = {
        "text": sa.Text,
        "timestamp": lambda: sa.DateTime(timezone=True),
        "float": sa.Double,
        "int": sa.BigInteger,
    }
    columns = [sa.Column(column, types[kind]()) for column, kind in RUNS_COLUMNS.items()]
    return sa.Table(name, metadata, *columns, schema=schema)


def swap_statements(dialect: Any, name: str, schema: str | None, exists: bool = True) -> list[str]:
    """The SQL that puts ``<name>__staging`` in place of ``name`` (identifiers quoted)."""
    preparer = dialect.identifier_preparer
    prefix = preparer.quote_schema(schema) + "." if schema else ""
    table = prefix + preparer.quote(name)
    staging = prefix + preparer.quote(name + STAGING_SUFFIX)
    if dialect.name == "snowflake":
        if exists:
            return [f"ALTER TABLE {staging} SWAP WITH {table}", f"DROP TABLE {staging}"]
        return [f"ALTER TABLE {staging} RENAME TO {table}"]
    # PostgreSQL, SQLite and DuckDB take the new name unqualified: the table stays in its schema.
    renamed = preparer.quote(name)
    return [f"DROP TABLE IF EXISTS {table}", f"ALTER TABLE {staging} RENAME TO {renamed}"]


def _checked_names(
    tables: dict[str, pd.DataFrame | Path], schema: str | None, runs_table: str
) -> list[str]:
    if schema is not None:
        check_identifier(schema, "[output] schema")
    check_identifier(runs_table, "[output] runs_table")
    limit = MAX_IDENTIFIER_LENGTH - len(STAGING_SUFFIX)
    names = [check_identifier(name, "result table name", limit) for name in tables]
    if runs_table in names:
        raise ConfigError(
            f"[output] runs_table = {runs_table!r} is also the name of a result table. Fix: "
            f"choose another name."
        )
    return names


def _prepare(connection: sa.Connection, schema: str | None, runs: sa.Table) -> None:
    import sqlalchemy as sa

    if schema is not None and not sa.inspect(connection).has_schema(schema):
        connection.execute(sa.schema.CreateSchema(schema))
    runs.create(connection, checkfirst=True)


def _stage(
    connection: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame | Path,
    chunk: int,
    copy: bool | None = None,
) -> None:
    """Create ``table`` and fill it with ``frame``: COPY on PostgreSQL via psycopg (unless
    ``copy`` is False), chunked ``executemany`` INSERTs elsewhere."""
    table.drop(connection, checkfirst=True)  # left over by an interrupted earlier write
    table.create(connection)
    if copy is None:
        copy = connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"
    for rows in _chunks(frame, table, chunk):
        if copy:
            _copy_rows(connection, table, rows)
        else:
            names = [c.name for c in table.columns]
            connection.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])


def _chunks(frame: pd.DataFrame | Path, table: sa.Table, size: int) -> Iterator[list[tuple]]:
    if isinstance(frame, Path):  # a Parquet file, read one batch at a time
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(frame).iter_batches(batch_size=max(size, 1)):
            yield python_rows(batch.to_pandas(), table)
        return
    for start in range(0, len(frame), max(size, 1)):
        yield python_rows(frame.iloc[start : start + size], table)


def _sample(frame: pd.DataFrame | Path, size: int) -> pd.DataFrame:
    """The frame, or the first batch of a Parquet file: what the column types are read from."""
    if not isinstance(frame, Path):
        return frame
    import pyarrow.parquet as pq

    source = pq.ParquetFile(frame)
    batch = next(source.iter_batches(batch_size=max(size, 1)), None)
    return (batch if batch is not None else source.schema_arrow.empty_table()).to_pandas()


def _copy_rows(connection: sa.Connection, table: sa.Table, rows: list[tuple]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN`` through psycopg, inside the open transaction."""
    preparer = connection.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(c.name) for c in table.columns)
    statement = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _swap(
    connection: sa.Connection, names: list[str], schema: str | None, dropped: list[str]
) -> None:
    """Put every staged table in place, and drop the left-out tables ``dropped``."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    for name in names:
        exists = connection.dialect.name != "snowflake" or inspector.has_table(name, schema)
        for statement in swap_statements(connection.dialect, name, schema, exists):
            connection.exec_driver_sql(statement)
    preparer = connection.dialect.identifier_preparer
    prefix = preparer.quote_schema(schema) + "." if schema else ""
    for name in dropped:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {prefix}{preparer.quote(name)}")


def _append_run(
    connection: sa.Connection, runs: sa.Table, record: dict[str, Any] | None, names: list[str]
) -> None:
    import sqlalchemy as sa

    if record is None:
        return
    present = {c["name"] for c in sa.inspect(connection).get_columns(runs.name, runs.schema)}
    row = {**record, "tables": record.get("tables") or ",".join(names)}
    connection.execute(runs.insert(), [{k: v for k, v in row.items() if k in present}])


def _driver_errors(dialect: Any) -> tuple[type[Exception], ...]:
    """The DBAPI's base error (raised unwrapped by COPY through the driver connection)."""
    dbapi = getattr(dialect, "loaded_dbapi", None) or getattr(dialect, "dbapi", None)
    error = getattr(dbapi, "Error", None)
    return (error,) if isinstance(error, type) and issubclass(error, Exception) else ()


def _drop_quietly(connection: sa.Connection, tables: list[sa.Table]) -> None:
    """Drop staging tables after a failed write; a second failure must not hide the first."""
    try:
        if connection.in_transaction():
            connection.rollback()
        with connection.begin():
            for table in tables:
                table.drop(connection, checkfirst=True)
    except Exception:  # best effort: the caller re-raises the original error
        pass
