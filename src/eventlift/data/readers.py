"""Read events from files, frames or a DuckDB query into the canonical event frame.

Every input ends up in the same shape (:data:`~eventlift.data.schema.CANONICAL_COLUMNS`): one row
per event, one column per role of the data contract in that order, null where the role
is not mapped in ``[columns]``, plus ``row_number`` (int64, the 0-based input order that later
breaks ties in time). Ids, names, categories, details and store fields become pandas ``"string"``
columns (integer ids read ``"123"``, also when a NaN widened them to float and when a text column
of integers holds some as ``"123.0"``; text such as ``"007"`` stays verbatim); ``timestamp``
becomes naive UTC ``datetime64[us]`` (see :mod:`eventlift.data.timestamps`). Nothing is dropped or
reordered here but malformed file lines that ``[input] on_bad_lines = "skip"`` lets go: null event
names, duplicates and ties are left for the sessions stage to count. What the reading decided
(files combined, a detected delimiter or epoch unit, zones converted, lines skipped) travels
with the frame as a :class:`ReadReport` (as a dict) in ``frame.attrs["read_report"]``. Opening
the sources themselves lives in :mod:`eventlift.data.sources`.
"""

from __future__ import annotations

import dataclasses
import decimal
import difflib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from eventlift.config import DEFAULT_SESSION_COLUMN, ColumnsConfig, Config
from eventlift.core.memory import release_freed_memory
from eventlift.data.categorical import as_categorical
from eventlift.data.schema import CANONICAL_COLUMNS, ROLES, ROW_NUMBER
from eventlift.data.sources import Source, open_file, open_source
from eventlift.data.timestamps import parse_timestamps
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    MissingColumnError,
    format_rows,
    found_columns,
)

__all__ = ["ReadReport", "as_text", "is_integral_text", "read_events", "read_report", "read_stores"]

logger = logging.getLogger(__name__)

_REQUIRED = {"timestamp": "event-time", "event": "event-name"}
_INTEGRAL_TEXT = r"[+-]?\d+(?:\.0+)?"  # "266079" or "266079.0": integers, some widened to float
_SHOWN_LINES = 10


@dataclass(frozen=True)
class ReadReport:
    """What reading the input did, for the run summary and the console.

    Attributes
    ----------
    files : int
        Files read (0 for a frame, an Arrow table or a query).
    malformed_lines : int
        Malformed lines dropped under ``[input] on_bad_lines = "skip"``.
    malformed_line_numbers : list of str
        The first of them (at most 10): ``"line N"`` for one file, ``"path:N"`` for several.
    notes : list of str
        One sentence per decision the reader made for the user: files combined, a detected
        delimiter or epoch unit, time zones converted, lines skipped.
    """

    files: int = 0
    malformed_lines: int = 0
    malformed_line_numbers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_report(frame: pd.DataFrame) -> ReadReport:
    """The :class:`ReadReport` that :func:`read_events` attached to ``frame`` (empty if none)."""
    report = frame.attrs.get("read_report")
    return ReadReport(**report) if isinstance(report, dict) else ReadReport()


def read_events(
    source: str | Path | pd.DataFrame | pa.Table | None, config: Config, *, compact: bool = False
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
    compact : bool
        Return the text roles as categoricals with sorted text categories instead of
        ``"string"`` columns: the same values for a few bytes per event. Parquet text columns are
        then read dictionary-encoded, so a large log never exists as one string per event
        (what the pipeline uses; see :mod:`eventlift.data.categorical`).

    Returns
    -------
    pandas.DataFrame
        Columns exactly :data:`~eventlift.data.schema.CANONICAL_COLUMNS`, one row per input event
        in input order, ``row_number`` = 0..n-1; ``attrs["read_report"]`` holds the
        :class:`ReadReport` (see :func:`read_report`).

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
        The file does not exist, is empty or unreadable, has malformed lines (unless
        ``[input] on_bad_lines = "skip"``), or the query fails.
    """
    opened = open_source(source, config.input)
    if not opened.columns:
        raise EmptyInputError(f"{opened.label}: the input holds no columns and no rows.")
    # a left-out session_id reads the column "session_id" when there is one, else derives
    mapping = _role_mapping(config.columns.resolve(DEFAULT_SESSION_COLUMN in opened.columns))
    _check_columns(opened, mapping)
    wanted = list(dict.fromkeys(mapping.values()))
    text_columns = [name for role, name in mapping.items() if role != "timestamp"]
    # untyped formats (CSV) stay text
    frame = opened.load(wanted, set(wanted), text_columns if compact else ())
    if len(frame) == 0:
        raise EmptyInputError(
            f"{opened.label}: the input has columns but no rows. Fix: point [input] at a "
            f"non-empty export (check the query's filters or the file)."
        )
    canonical, notes = {}, list(opened.notes)
    for role in ROLES:
        if role == "timestamp":
            name = mapping[role]
            canonical[role] = parse_timestamps(
                frame[name],
                column=name,
                unit=config.input.timestamp_unit,
                source=opened.label,
                timezone=config.input.timezone,
                notes=notes,
                locate=opened.locate,
            )
        elif role in mapping:
            values = frame[mapping[role]]
            canonical[role] = _as_categorical_text(values) if compact else as_text(values)
        else:
            canonical[role] = pd.Series(pd.NA, index=pd.RangeIndex(len(frame)), dtype="string")
            if compact:
                canonical[role] = canonical[role].astype("category")
    canonical[ROW_NUMBER] = pd.Series(np.arange(len(frame), dtype=np.int64))  # (n,)
    logger.info("read %d events from %s", len(frame), opened.label)
    del frame
    if compact:  # hand the read buffers back: Arrow's pool keeps freed memory otherwise
        release_freed_memory()
    events = pd.DataFrame(canonical, columns=list(CANONICAL_COLUMNS))
    # plain data in attrs: pandas copies it with the frame and Arrow/Spark serialise it as JSON
    events.attrs["read_report"] = dataclasses.asdict(_report(opened, notes))
    return events


def _report(opened: Source, notes: list[str]) -> ReadReport:
    """The :class:`ReadReport` of a read: the source's files and faults, and every note."""
    faults = opened.faults.by_file
    where = [
        f"line {line}" if opened.files == 1 else f"{path}:{line}"
        for path, (_, first) in faults.items()
        for line, _ in first
    ][:_SHOWN_LINES]
    count = opened.faults.count
    if count:
        notes = [
            *notes,
            f"{opened.label}: skipped {count} malformed line(s) ({', '.join(where[:5])}"
            f'{", ..." if count > 5 else ""}), as [input] on_bad_lines = "skip" asks.',
        ]
    for note in notes:
        logger.info(note)
    return ReadReport(opened.files, count, where, notes)


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
    opened = open_file(Path(path), "auto", key="stores")
    if "store_id" not in opened.columns:
        raise MissingColumnError(
            f"{opened.label}: the stores table has no 'store_id' column. "
            f"{found_columns(opened.columns)} Fix: rename the column holding the store key to "
            f"'store_id' (it is joined on the events' store_id role)."
        )
    frame = opened.load(None, {"store_id"}).reset_index(drop=True)
    if len(frame) == 0:
        raise EmptyInputError(f"{opened.label}: the stores table has no rows.")
    frame["store_id"] = as_text(frame["store_id"])
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


def _check_columns(opened: Source, mapping: dict[str, str]) -> None:
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
            + f"\n{found_columns(opened.columns)}"
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


def _as_categorical_text(values: pd.Series) -> pd.Series:
    """:func:`as_text` as a categorical with sorted categories; a categorical input is
    converted once per category, never once per event."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return as_categorical(as_text(values))
    text = as_text(pd.Series(values.cat.categories))  # (C,) the categories as text
    codes, uniques = pd.factorize(text, sort=True)  # distinct texts; a null text gets -1
    lookup = np.append(codes, -1)  # code -1 (a null event) stays null
    return pd.Series(
        pd.Categorical.from_codes(
            lookup[values.cat.codes.to_numpy()], categories=pd.Index(np.asarray(uniques, str))
        )
    )


def as_text(values: pd.Series, *, integral: bool | None = None) -> pd.Series:
    """Any column -> pandas ``"string"`` with NA for nulls; integral numbers print as integers.

    ``integral`` is whether the whole column holds integers written as text, some as ``"4.0"``
    (see :func:`is_integral_text`); None decides it from ``values``. A caller that sees a column
    in parts (Spark batches) decides once for the whole column and passes the answer, so every
    part reads alike.
    """
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.ArrowDtype):
        values = pa.array(values).to_pandas()
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    dtype = values.dtype
    if pd.api.types.is_float_dtype(dtype):
        return _floatsas_text(values.to_numpy(dtype="float64", na_value=np.nan))
    if not pd.api.types.is_object_dtype(dtype):
        text = values.astype("string")  # integers, booleans, strings, datetimes
    elif pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty", "integer", "boolean"):
        text = values.astype("string")
    else:
        text = pd.Series(pd.array([_scalar_text(v) for v in values], dtype="string"))
    if integral is None:
        integral = is_integral_text(text)
    return text.str.replace(r"\.0+$", "", regex=True) if integral else text


def is_integral_text(text: pd.Series) -> bool:
    """Whether every non-null value of a text column is an integer, some written ``"4.0"``.

    Exports write integer ids and codes that passed through a float column that way, in whole
    or in part (``"4"`` and ``"4.0"`` in one column); both must become the token ``"4"``. Any
    other text (``"007"``, ``"1.50"``, names) is left verbatim.
    """
    present = text.dropna()
    return bool(len(present)) and bool(present.str.fullmatch(_INTEGRAL_TEXT).all())


def _floatsas_text(values: np.ndarray) -> pd.Series:
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
