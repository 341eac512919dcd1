"""The event-level table, written chunk by chunk: CSV and Parquet side by side.

The event-level table has one row per event of the log (tens of millions for a large one), so it
is never built whole: the caller yields it in chunks of sessions and each chunk goes to both
files before the next is laid out. Text columns are written as plain strings whatever their
in-memory type (categoricals, Arrow strings), under one fixed schema, so every chunk, every run and
every engine gives the same file types. The CSV goes through Arrow's writer (about ten times
pandas' ``to_csv``): text in double quotes, booleans as ``true``/``false``, nulls empty.

The database copy of the table is loaded from the finished Parquet file
(:mod:`eventlift.sinks.database`, :mod:`eventlift.sinks.warehouse`), again without the whole table
in memory. Both files are written under temporary names and moved into place together.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pyarrow as pa

from eventlift.core.atomic import atomic_path
from eventlift.data.schema import EVENT_LEVEL_COLUMNS, SESSION_LENGTH

__all__ = ["EVENT_LEVEL_SCHEMA", "event_level_arrow", "write_event_level"]

_TYPES = {
    "session_id": pa.string(),
    "position": pa.int64(),
    "event": pa.string(),
    "event_category": pa.string(),
    "store_id": pa.string(),
    "store_name": pa.string(),
    "timestamp": pa.timestamp("us"),
    "attribution_raw": pa.float64(),
    "attribution": pa.float64(),
    "converted": pa.bool_(),
    "predicted_probability": pa.float64(),
    "split": pa.string(),
    SESSION_LENGTH: pa.int64(),
}
EVENT_LEVEL_SCHEMA = pa.schema(
    [(name, _TYPES[name]) for name in (*EVENT_LEVEL_COLUMNS, SESSION_LENGTH)]
)


def event_level_arrow(frame: pd.DataFrame) -> pa.Table:
    """An event-level frame as an Arrow table of :data:`EVENT_LEVEL_SCHEMA`."""
    columns = []
    for field in EVENT_LEVEL_SCHEMA:
        values = frame[field.name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            array = pa.array(values, from_pandas=True).dictionary_decode()
        else:
            array = pa.array(values, from_pandas=True)
        columns.append(array.cast(field.type))
    return pa.Table.from_arrays(columns, schema=EVENT_LEVEL_SCHEMA)


def write_event_level(
    chunks: Iterable[pd.DataFrame], csv_path: str | Path, parquet_path: str | Path
) -> int:
    """Write every chunk to ``csv_path`` and ``parquet_path``; returns the number of rows.

    Neither file appears (nor replaces an earlier one) unless every chunk was written.
    """
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    rows = 0
    with ExitStack() as stack:
        csv_temporary = stack.enter_context(atomic_path(csv_path))
        parquet_temporary = stack.enter_context(atomic_path(parquet_path))
        csv_writer = stack.enter_context(
            csv.CSVWriter(
                str(csv_temporary),
                EVENT_LEVEL_SCHEMA,
            )
        )
        parquet_writer = stack.enter_context(
            pq.ParquetWriter(parquet_temporary, EVENT_LEVEL_SCHEMA)
        )
        for frame in chunks:
            table = event_level_arrow(frame)
            csv_writer.write_table(table)
            parquet_writer.write_table(table)
            rows += table.num_rows
    return rows
