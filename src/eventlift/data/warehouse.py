"""Events from a SQL query: a DuckDB file read directly, or any database SQLAlchemy can reach.

The query runs once, on a server-side cursor (``stream_results``): rows arrive in batches of
``[input] fetch_rows``, each batch becomes an Arrow record batch at once, and the batches are
joined into one table at the end, so the result is held once, as Arrow, and never as a list of
all rows. A DuckDB file is opened read-only and queried in process (:func:`read_duckdb`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from eventlift.core.sql import create_engine, database_error, mask_url
from eventlift.exceptions import DataError, EmptyInputError

__all__ = ["query_label", "read_duckdb", "read_query"]


def query_label(url: str) -> str:
    """How a query's source is named in messages: the URL, password masked."""
    return f"query on {mask_url(url)}"


def read_query(
    url: str,
    query: str,
    *,
    fetch_rows: int = 50_000,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
) -> pa.Table:
    """Run ``query`` against the database at ``url`` and return its result as an Arrow table.

    Each fetched batch (at most ``fetch_rows`` rows) is passed to ``on_batch`` when given (a
    progress hook). Raises ConfigError for an unusable URL or a missing driver, DataError when
    the server cannot be reached or the query fails; both name the URL with its password masked.
    """
    import sqlalchemy as sa

    label = query_label(url)
    engine = create_engine(url, "[input] database")
    batches: list[pa.RecordBatch] = []
    step = "connecting"
    try:
        with engine.connect() as connection:
            step = "running the query"
            options = {"stream_results": True, "max_row_buffer": fetch_rows}
            streaming = connection.execution_options(no_parameters=True, **options)
            result = streaming.exec_driver_sql(query)
            if not result.returns_rows:
                raise EmptyInputError(
                    f"{label}: the query returned no rows or columns: {query!r}. Fix: set "
                    f"[input] query to a SELECT that returns the events."
                )
            names = list(result.keys())
            for rows in result.partitions(fetch_rows):
                batch = _record_batch(rows, names, label)
                batches.append(batch)
                if on_batch is not None:
                    on_batch(batch)
            schema = _schema(batches, names)
    except sa.exc.SQLAlchemyError as exc:
        fix = (
            "check the host, port, database name and credentials in [input] database, and that "
            "the server accepts connections from here"
            if step == "connecting"
            else "correct [input] query (try it in the database's own client first)"
        )
        raise DataError(
            f"{label}: {step} failed ({database_error(exc, url)}).\nQuery: {query}\nFix: {fix}."
        ) from None
    finally:
        engine.dispose()
    try:
        return pa.Table.from_batches([_cast(b, schema) for b in batches], schema=schema)
    except (pa.ArrowException, ValueError) as exc:
        raise DataError(f"{label}: cannot combine the fetched batches ({exc}).") from None


def _record_batch(rows: Sequence[Sequence], names: list[str], label: str) -> pa.RecordBatch:
    """One fetched batch as Arrow; a column Arrow cannot type is kept as text."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowException, TypeError, ValueError):
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    try:
        return pa.RecordBatch.from_arrays(arrays, names=names)
    except (pa.ArrowException, ValueError) as exc:
        raise DataError(f"{label}: cannot convert the query result ({exc}).") from None


def _schema(batches: list[pa.RecordBatch], names: list[str]) -> pa.Schema:
    """One schema for all batches: the first non-null type of each column (text if they differ)."""
    fields = []
    for index, name in enumerate(names):
        types = {b.schema.field(index).type for b in batches} - {pa.null()}
        if not types:
            kind = pa.null()
        elif len(types) == 1:
            kind = types.pop()
        elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def _cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for column, field in zip(batch.columns, schema, strict=True):
        if column.type == field.type:
            arrays.append(column)
        elif pa.types.is_string(field.type) and not pa.types.is_null(column.type):
            arrays.append(pa.array([None if v is None else str(v) for v in column.to_pylist()]))
        else:
            arrays.append(column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def read_duckdb(query: str, database: str | None) -> tuple[pa.Table, str]:
    """Run ``query`` read-only against the DuckDB file ``database``: the result and its label."""
    path = (database or "").removeprefix("duckdb:///")
    label = f"query on {path}"
    if path != ":memory:" and not Path(path).is_file():
        raise DataError(
            f"{label}: the database file does not exist. Fix: set [input] database to an "
            f"existing DuckDB file."
        )
    try:
        connection = duckdb.connect(path, read_only=True)
    except duckdb.Error as exc:
        raise DataError(f"{label}: cannot open it as a DuckDB database ({exc}).") from None
    try:
        relation = connection.sql(query)
        if relation is None:
            raise DataError(f"{label}: the query returned no rows or columns: {query!r}.")
        table = relation.to_arrow_table()
    except duckdb.Error as exc:
        raise DataError(
            f"{label} failed:\n{exc}\nQuery: {query}\nFix: correct [input] query (try it in the "
            f"duckdb shell against that file)."
        ) from None
    finally:
        connection.close()
    return table, label
