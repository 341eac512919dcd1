"""Open event sources: files (CSV, Parquet, JSON lines, nested or flat), frames and SQL queries.

Each opener returns a :class:`Source`: a label for messages, the column names, and a loader that
reads only the columns asked for, so a wide export is never read whole. CSV files are read as
text, so ids such as ``"007"`` keep their leading zeros; a CSV column whose every value looks like
``123.0`` (integers that a NaN widened to float before export) reads ``"123"``. JSON lines may
be nested (``[input] nested_events``): one object per line holding a list of event objects, whose
outer fields are repeated onto each event. A query runs against a DuckDB file, or against any
SQLAlchemy URL through :mod:`eventlift.data.warehouse` (streamed in batches, read once).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads

from eventlift.config import InputConfig
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    MissingColumnError,
    format_rows,
)

__all__ = ["Source", "found_columns", "open_file", "open_source"]


_FORMATS_BY_SUFFIX = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

# A text column whose every value looks like this held integers widened to float by a NaN before
# export ("123.0"); it is read as the integers. Text such as "007" is kept verbatim.
_WIDENED_INTEGER = r"^[+-]?\d+\.0+$"


def found_columns(columns: list) -> str:
    """A few of the column names a source holds, for error messages."""
    shown = ", ".join(repr(c) for c in columns[:12])
    more = f", ... ({len(columns)} in all)" if len(columns) > 12 else ""
    return f"Columns found: {shown or 'none'}{more}."


@dataclass(frozen=True)
class Source:
    """An opened input: its label for messages, its column names, and how to load columns.

    ``load(columns, text, categorical)`` returns a frame holding at least ``columns`` (all when
    None); formats without column types (CSV) read the names in ``text`` as text and infer the
    others. Text columns named in ``categorical`` come back as pandas categoricals where the
    format allows (Parquet reads them dictionary-encoded, never holding every value as a string;
    Arrow tables encode them before conversion).
    """

    label: str
    columns: list
    load: Callable[..., pd.DataFrame]


def open_source(source: str | Path | pd.DataFrame | pa.Table | None, config: InputConfig) -> Source:
    """Dispatch on the kind of source; flatten nested events when configured."""
    nested = config.nested_events
    if source is None:
        if config.query:
            opened = _query_source(config)
        elif config.path:
            return open_file(Path(config.path), config.format, nested)
        else:
            raise ConfigError(
                "no events to read: pass a file path or a DataFrame, or set [input] path = "
                '"events.parquet" (or query and database) in the config.'
            )
    elif isinstance(source, pd.DataFrame):
        opened = _frame_source(source, "<DataFrame>")
    elif isinstance(source, pa.Table):
        opened = _arrow_source(source, "<Arrow table>")
    elif isinstance(source, str | os.PathLike):
        return open_file(Path(source), config.format, nested)
    else:
        raise DataError(
            f"cannot read events from a {type(source).__name__}: pass a file path, a pandas "
            f"DataFrame, a pyarrow Table, or None to read [input] from the config."
        )
    return _flattened(opened, nested) if nested else opened


def _flattened(opened: Source, field: str) -> Source:
    """A source whose rows hold lists of events, turned into one row per event."""
    records = opened.load(None, set()).to_dict("records")
    return _frame_source(_flatten(enumerate(records), field, opened.label, "row"), opened.label)


def _frame_source(frame: pd.DataFrame, label: str) -> Source:
    return Source(label, list(frame.columns), lambda columns, text, categorical=(): frame)


def _arrow_source(table: pa.Table, label: str) -> Source:
    def load(columns: list | None, text: set[str], categorical: Iterable[str] = ()) -> pd.DataFrame:
        try:
            chosen = table if columns is None else table.select(columns)
            for name in set(categorical) & set(chosen.column_names):
                column = chosen.column(name)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    index = chosen.column_names.index(name)
                    chosen = chosen.set_column(index, name, pc.dictionary_encode(column))
            return chosen.to_pandas()
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"{label}: cannot convert to pandas ({exc}).") from None

    return Source(label, list(table.column_names), load)


def open_file(path: Path, fmt: str, nested: str | None = None, key: str = "path") -> Source:
    """Open a file (or a folder of Parquet files) without reading more than its header.

    ``key`` is the ``[input]`` key that named the file, for the message when it does not exist.
    """
    label = str(path)
    if not path.exists():
        raise DataError(
            f"{label}: file does not exist. Fix: check [input] {key} (relative paths in a config "
            f"file resolve against the config file's folder)."
        )
    fmt = _detect_format(path, fmt)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{label}: the file is empty (0 bytes). Fix: export the events again.")
    if fmt == "jsonl":
        records = _json_lines(path)
        if nested:
            return _frame_source(_flatten(records, nested, label, "line"), label)
        return _frame_source(pd.DataFrame.from_records([r for _, r in records]), label)
    opened = _parquet_source(path) if fmt == "parquet" else _csv_source(path)
    return _flattened(opened, nested) if nested else opened


def _detect_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    if path.is_dir():
        if any(path.rglob("*.parquet")):
            return "parquet"
        raise DataError(
            f"{path}: a folder without .parquet files. Fix: point [input] path at a file, or at "
            f"a folder of Parquet files."
        )
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in _FORMATS_BY_SUFFIX:
        return _FORMATS_BY_SUFFIX[suffixes[-1]]
    raise DataError(
        f"{path}: cannot tell the format from the suffix {path.suffix!r}. Fix: use .csv, "
        f'.parquet or .jsonl, or set [input] format = "csv", "parquet" or "jsonl".'
    )


def _csv_source(path: Path) -> Source:
    """CSV through Arrow's parser: the header now, columns on demand; ``text`` columns stay text."""
    parse = pacsv.ParseOptions(newlines_in_values=True)

    def failure(exc: Exception) -> DataError:
        return DataError(
            f"{path}: cannot read as CSV ({exc}). Fix: repair the file (UTF-8 text, one header "
            f"line, the same number of fields on every line), or set [input] format if it is "
            f"not CSV."
        )

    try:
        names = pacsv.open_csv(path, parse_options=parse).schema.names
    except (pa.ArrowException, OSError) as exc:
        raise failure(exc) from None

    def load(columns: list | None, text: set[str], categorical: Iterable[str] = ()) -> pd.DataFrame:
        convert = pacsv.ConvertOptions(
            include_columns=columns or [],
            column_types={name: pa.string() for name in text if name in names},
            strings_can_be_null=True,
        )
        try:
            table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
        except (pa.ArrowException, OSError) as exc:
            raise failure(exc) from None
        for index, name in enumerate(table.column_names):
            column = table.column(index)
            widened = (
                name in text
                and column.null_count < len(column)
                and pc.all(pc.match_substring_regex(column, _WIDENED_INTEGER)).as_py()
            )
            if widened:
                stripped = pc.replace_substring_regex(column, r"\.0+$", "")
                table = table.set_column(index, name, stripped)
        return _arrow_source(table, str(path)).load(None, text, categorical)

    return Source(str(path), names, load)


def _parquet_source(path: Path) -> Source:
    try:
        dataset = pads.dataset(path, format="parquet")
        names = list(dataset.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{path}: cannot read as Parquet ({exc}). Fix: export the file again, or set "
            f"[input] format if it is not Parquet."
        ) from None

    def load(columns: list | None, text: set[str], categorical: Iterable[str] = ()) -> pd.DataFrame:
        chosen = dataset
        if categorical:  # text columns straight into dictionary arrays
            options = pads.ParquetFileFormat(read_options={"dictionary_columns": list(categorical)})
            chosen = pads.dataset(path, format=options)
        try:
            table = chosen.to_table(columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: cannot read the Parquet data ({exc}).") from None
        return _arrow_source(table, str(path)).load(None, text, categorical)

    return Source(str(path), names, load)


def _json_lines(path: Path) -> list[tuple[int, dict]]:
    """Parse a JSON lines file into (line number, object) pairs, naming the first bad line."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    records = []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{path}: line {number} is not valid JSON ({exc.msg} at column "
                        f"{exc.colno}): {line.strip()[:80]!r}. Fix: each line must hold one JSON "
                        f"object; repair or remove that line."
                    ) from None
                if not isinstance(record, dict):
                    raise DataError(
                        f"{path}: line {number} holds a JSON {type(record).__name__}, not an "
                        f"object: {line.strip()[:80]!r}. Fix: write one object per line."
                    )
                records.append((number, record))
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as JSON lines ({exc}).") from None
    return records


def _flatten(
    records: Iterable[tuple[int, dict]], field: str, label: str, unit: str
) -> pd.DataFrame:
    """One row per element of each record's ``field`` list, outer fields repeated onto it.

    Records without the field (or with null) contribute no events; an event's own keys win over
    outer fields of the same name. ``unit`` ("line" or "row") words the positions in messages.
    """
    rows, bad, keys = [], [], {}
    for position, record in records:
        keys.update(dict.fromkeys(record))
        items = record.get(field)
        if items is None or (isinstance(items, float) and np.isnan(items)):
            items = []
        if not isinstance(items, list | tuple | np.ndarray) or not all(
            isinstance(item, dict) for item in items
        ):
            bad.append({unit: position, field: repr(items)[:60]})
            continue
        outer = {key: value for key, value in record.items() if key != field}
        rows.extend({**outer, **item} for item in items)
    if field not in keys:
        raise MissingColumnError(
            f"{label}: [input] nested_events = {field!r}, but no record has a field {field!r}. "
            f"{found_columns(list(keys))} Fix: set [input] nested_events to the list field "
            f'holding the events, or to "" for flat input.'
        )
    if bad:
        raise DataError(
            f"{label}: {len(bad)} record(s) whose {field!r} field is not a list of event "
            f"objects, e.g.\n{format_rows(bad)}\nFix: each record's {field!r} must be a list of "
            f'objects such as [{{"event": "click", "ts": 1700000000}}].'
        )
    if not rows:
        raise EmptyInputError(
            f"{label}: no record holds any event in its {field!r} list. Fix: check the export."
        )
    return pd.DataFrame.from_records(rows)


def _query_source(config: InputConfig) -> Source:
    """``[input] query`` against a DuckDB file (or ``duckdb:///``), else any SQLAlchemy URL."""
    from eventlift.sinks.sql import duckdb_file

    database = config.database or ""
    if duckdb_file(database) is not None:
        return _duckdb_source(config.query or "", database)
    from eventlift.data.warehouse import query_label, read_query

    table = read_query(database, config.query or "", fetch_rows=config.fetch_rows)
    return _arrow_source(table, query_label(database))


def _duckdb_source(query: str, database: str | None) -> Source:
    """Run ``query`` read-only against the DuckDB file ``database`` and wrap the result."""
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
    return _arrow_source(table, label)
