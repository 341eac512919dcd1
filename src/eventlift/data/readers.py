"""Read events from files, frames or a DuckDB query into the canonical event frame.

Every input ends up in the same shape (:data:`~eventlift.data.schema.CANONICAL_COLUMNS`): one row
per event, one column per role of the data contract (DESIGN §2) in that order, null where the role
is not mapped in ``[columns]``, plus ``row_number`` (int64, the 0-based input order that later
breaks ties in time). Ids, names, categories, details and store fields become pandas ``"string"``
columns (integer ids read ``"123"``, also when a NaN widened them to float); ``timestamp``
becomes naive UTC ``datetime64[us]`` (see :mod:`eventlift.data.timestamps`). Nothing is dropped or
reordered here: null event names, duplicates and ties are left for the sessions stage to count.

CSV files are read as text, so ids such as ``"007"`` keep their leading zeros; a CSV column whose
every value looks like ``123.0`` (integers that a NaN widened to float before export) reads
``"123"``. JSON lines may be nested (``[input] nested_events``): one object per line holding a
list of event objects, whose outer fields are repeated onto each event.
"""

from __future__ import annotations

import decimal
import difflib
import gzip
import json
import logging
import os
from collections import Counter
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

from eventlift.config import ColumnsConfig, Config, InputConfig
from eventlift.data.schema import CANONICAL_COLUMNS, ROLES, ROW_NUMBER
from eventlift.data.timestamps import parse_timestamps
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    MissingColumnError,
    format_rows,
)

__all__ = ["read_events", "read_stores"]

logger = logging.getLogger(__name__)

_FORMATS_BY_SUFFIX = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_REQUIRED = {"timestamp": "event-time", "event": "event-name"}
# A text column whose every value looks like this held integers widened to float by a NaN before
# export ("123.0"); it is read as the integers. Text such as "007" is kept verbatim.
_WIDENED_INTEGER = r"^[+-]?\d+\.0+$"


@dataclass(frozen=True)
class _Source:
    """An opened input: its label for messages, its column names, and how to load columns.

    ``load(columns, text)`` returns a frame holding at least ``columns`` (all when None); formats
    without column types (CSV) read the names in ``text`` as text and infer the others.
    """

    label: str
    columns: list
    load: Callable[[list | None, set[str]], pd.DataFrame]


def read_events(
    source: str | Path | pd.DataFrame | pa.Table | None, config: Config
) -> pd.DataFrame:
    """Read events and map the configured columns onto the canonical event frame.

    Parameters
    ----------
    source : str, Path, pandas.DataFrame, pyarrow.Table or None
        A CSV / Parquet (file or folder) / JSON lines file (format from the suffix unless
        ``[input] format`` says), an in-memory table, or None to read ``[input] path`` or run
        ``[input] query`` read-only against the DuckDB file ``[input] database``.
    config : Config
        Uses ``[input]`` (format, timestamp_unit, nested_events, and the source when ``source``
        is None) and ``[columns]`` (role -> column; None or "" leaves a role unmapped).

    Returns
    -------
    pandas.DataFrame
        Columns exactly :data:`~eventlift.data.schema.CANONICAL_COLUMNS`, one row per input event
        in input order, ``row_number`` = 0..n-1.

    Raises
    ------
    ConfigError
        ``timestamp`` or ``event`` is unmapped, neither ``session_id`` nor ``user_id`` is mapped,
        or there is no source at all.
    MissingColumnError
        A mapped column is absent; the message lists the columns found and the fix.
    EmptyInputError
        The input holds no rows (or, nested, no events).
    TimestampError
        Some timestamps are null or cannot be parsed.
    DataError
        The file does not exist, is empty or unreadable, or the query fails.
    """
    mapping = _role_mapping(config.columns)
    opened = _open(source, config.input)
    if not opened.columns:
        raise EmptyInputError(f"{opened.label}: the input holds no columns and no rows.")
    _check_columns(opened, mapping)
    wanted = list(dict.fromkeys(mapping.values()))
    frame = opened.load(wanted, set(wanted))  # untyped formats (CSV) stay text
    if len(frame) == 0:
        raise EmptyInputError(
            f"{opened.label}: the input has columns but no rows. Fix: point [input] at a "
            f"non-empty export (check the query's filters or the file)."
        )
    canonical = {}
    for role in ROLES:
        if role == "timestamp":
            name = mapping[role]
            canonical[role] = parse_timestamps(
                frame[name], column=name, unit=config.input.timestamp_unit, source=opened.label
            )
        elif role in mapping:
            canonical[role] = _as_strings(frame[mapping[role]])
        else:
            canonical[role] = pd.Series(pd.NA, index=pd.RangeIndex(len(frame)), dtype="string")
    canonical[ROW_NUMBER] = pd.Series(np.arange(len(frame), dtype=np.int64))  # (n,)
    logger.info("read %d events from %s", len(frame), opened.label)
    return pd.DataFrame(canonical, columns=list(CANONICAL_COLUMNS))


def read_stores(path: str | Path) -> pd.DataFrame:
    """Read a store dimension table, keyed by a column named ``store_id``.

    Parameters
    ----------
    path : str or Path
        CSV or Parquet (a JSON lines file works too); ``store_id`` is read as text so that it
        joins with the events' ``store_id`` role.

    Returns
    -------
    pandas.DataFrame
        ``store_id`` (pandas ``"string"``) first, then the file's other columns unchanged.

    Raises
    ------
    MissingColumnError
        The table has no ``store_id`` column.
    EmptyInputError
        The table has no rows.
    DataError
        The file is missing or unreadable, or a store id appears on more than one row.
    """
    opened = _file_source(Path(path), "auto", key="stores")
    if "store_id" not in opened.columns:
        raise MissingColumnError(
            f"{opened.label}: the stores table has no 'store_id' column. "
            f"{_found(opened.columns)} Fix: rename the column holding the store key to "
            f"'store_id' (it is joined on the events' store_id role)."
        )
    frame = opened.load(None, {"store_id"}).reset_index(drop=True)
    if len(frame) == 0:
        raise EmptyInputError(f"{opened.label}: the stores table has no rows.")
    frame["store_id"] = _as_strings(frame["store_id"])
    counts = frame["store_id"].value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        rows = [{"store_id": key, "rows": int(n)} for key, n in repeated.head(5).items()]
        raise DataError(
            f"{opened.label}: {len(repeated)} store ids appear on more than one row:\n"
            f"{format_rows(rows)}\nFix: keep one row per store_id in the stores table."
        )
    return frame[["store_id", *(c for c in frame.columns if c != "store_id")]]


def _role_mapping(columns: ColumnsConfig) -> dict[str, str]:
    """Mapped roles -> column names; enforce the roles the contract requires."""
    mapping = {role: getattr(columns, role) for role in ROLES if getattr(columns, role)}
    for role, what in _REQUIRED.items():
        if role not in mapping:
            raise ConfigError(
                f"[columns] {role} is required: set it to the name of your {what} column, "
                f'e.g. {role} = "{role}".'
            )
    if "session_id" not in mapping and "user_id" not in mapping:
        raise ConfigError(
            "[columns] maps neither session_id nor user_id: map session_id to the column that "
            "groups events into sessions, or map user_id to derive sessions by inactivity "
            "([sessions] inactivity_gap_minutes)."
        )
    return mapping


def _check_columns(opened: _Source, mapping: dict[str, str]) -> None:
    """Raise MissingColumnError for every mapped column absent from the input."""
    counts = Counter(opened.columns)
    problems = []
    for role, name in mapping.items():
        if counts[name] > 1:
            raise DataError(
                f"{opened.label}: column {name!r} (role {role!r}) appears {counts[name]} times. "
                f"Fix: give the input's columns unique names."
            )
        if name in counts:
            continue
        fix = f'set [columns] {role} = "{_suggest(name, role, opened.columns)}" in the config'
        if role == "session_id":
            fix += (
                ', or set session_id = "" to derive sessions from user_id by inactivity'
                if "user_id" in mapping
                else ', or map user_id and set session_id = "" to derive sessions by inactivity'
            )
        elif role not in _REQUIRED:
            fix += f', or set {role} = "" to leave this optional role unmapped'
        problems.append(
            f"  - role {role!r} is mapped to column {name!r}, which is absent. Fix: {fix}."
        )
    if problems:
        raise MissingColumnError(
            f"{opened.label}: {len(problems)} configured column(s) not found.\n"
            + "\n".join(problems)
            + f"\n{_found(opened.columns)}"
        )


def _suggest(name: str, role: str, columns: Iterable) -> str:
    """The existing column most like the configured name or the role, else a placeholder."""
    texts = [str(c) for c in columns]
    lowered = {text.lower(): text for text in texts}
    for wanted in (name, role):
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
        close = difflib.get_close_matches(wanted.lower(), list(lowered), n=1, cutoff=0.6)
        if close:
            return lowered[close[0]]
    return "<your column>"


def _found(columns: list) -> str:
    shown = ", ".join(repr(c) for c in columns[:12])
    more = f", ... ({len(columns)} in all)" if len(columns) > 12 else ""
    return f"Columns found: {shown or 'none'}{more}."


def _open(source: str | Path | pd.DataFrame | pa.Table | None, config: InputConfig) -> _Source:
    """Dispatch on the kind of source; flatten nested events when configured."""
    nested = config.nested_events
    if source is None:
        if config.query:
            opened = _duckdb_source(config.query, config.database)
        elif config.path:
            return _file_source(Path(config.path), config.format, nested)
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
        return _file_source(Path(source), config.format, nested)
    else:
        raise DataError(
            f"cannot read events from a {type(source).__name__}: pass a file path, a pandas "
            f"DataFrame, a pyarrow Table, or None to read [input] from the config."
        )
    return _flattened(opened, nested) if nested else opened


def _flattened(opened: _Source, field: str) -> _Source:
    """A source whose rows hold lists of events, turned into one row per event."""
    records = opened.load(None, set()).to_dict("records")
    return _frame_source(_flatten(enumerate(records), field, opened.label, "row"), opened.label)


def _frame_source(frame: pd.DataFrame, label: str) -> _Source:
    return _Source(label, list(frame.columns), lambda columns, text: frame)


def _arrow_source(table: pa.Table, label: str) -> _Source:
    def load(columns: list | None, text: set[str]) -> pd.DataFrame:
        try:
            return (table if columns is None else table.select(columns)).to_pandas()
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"{label}: cannot convert to pandas ({exc}).") from None

    return _Source(label, list(table.column_names), load)


def _file_source(path: Path, fmt: str, nested: str | None = None, key: str = "path") -> _Source:
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


def _csv_source(path: Path) -> _Source:
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

    def load(columns: list | None, text: set[str]) -> pd.DataFrame:
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
        return _arrow_source(table, str(path)).load(None, text)

    return _Source(str(path), names, load)


def _parquet_source(path: Path) -> _Source:
    try:
        dataset = pads.dataset(path, format="parquet")
        names = list(dataset.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{path}: cannot read as Parquet ({exc}). Fix: export the file again, or set "
            f"[input] format if it is not Parquet."
        ) from None

    def load(columns: list | None, text: set[str]) -> pd.DataFrame:
        try:
            table = dataset.to_table(columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: cannot read the Parquet data ({exc}).") from None
        return _arrow_source(table, str(path)).load(None, text)

    return _Source(str(path), names, load)


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
            f"{_found(list(keys))} Fix: set [input] nested_events to the list field holding the "
            f'events, or to "" for flat input.'
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


def _as_strings(values: pd.Series) -> pd.Series:
    """Any column -> pandas ``"string"`` with NA for nulls; integral numbers print as integers."""
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.ArrowDtype):
        values = pa.array(values).to_pandas()
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    dtype = values.dtype
    if pd.api.types.is_float_dtype(dtype):
        return _floats_as_strings(values.to_numpy(dtype="float64", na_value=np.nan))
    if not pd.api.types.is_object_dtype(dtype):
        return values.astype("string")  # integers, booleans, strings, datetimes
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty", "integer", "boolean"):
        return values.astype("string")
    return pd.Series(pd.array([_scalar_text(v) for v in values], dtype="string"))


def _floats_as_strings(values: np.ndarray) -> pd.Series:
    """Float column (shape ``(n,)``) -> text; ``123.0`` -> ``"123"``, NaN -> NA."""
    null = np.isnan(values)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(values) & (np.floor(values) == values) & (np.abs(values) < 2**63)
    whole = np.where(integral, values, 0).astype(np.int64)
    if (integral | null).all():  # the usual case: integer ids widened to float by NaN
        return pd.Series(pd.arrays.IntegerArray(whole, null)).astype("string")
    text = np.full(values.shape, None, dtype=object)
    text[integral] = whole[integral].astype(str)
    other = ~integral & ~null
    text[other] = [str(v) for v in values[other]]
    return pd.Series(pd.array(text, dtype="string"))


def _scalar_text(value: object) -> str | None:
    """One object as text, None for nulls (None, NaN, NA, NaT); integral numbers without ".0"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        return str(int(value)) if np.isfinite(value) and value == np.floor(value) else str(value)
    if isinstance(value, decimal.Decimal):  # DuckDB and Parquet DECIMAL columns
        if value.is_nan():
            return None
        integral = value.is_finite() and value == value.to_integral_value()
        return str(int(value)) if integral else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _duckdb_source(query: str, database: str | None) -> _Source:
    """Run ``query`` read-only against the DuckDB file ``database`` and wrap the result."""
    path = (database or "").removeprefix("duckdb:///")
    label = f"query on {path}"
    if "://" in path:
        raise DataError(
            f"{label}: only DuckDB files can be queried. Fix: set [input] database to a DuckDB "
            f"file path (or duckdb:///path), or export the events to Parquet and set [input] path."
        )
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
