"""Turn a user's event-time column into naive UTC datetimes, or say exactly which rows fail.

Accepted inputs:

- datetime columns: zone-aware values are converted to UTC; naive values are UTC, or wall-clock
  time in ``[input] timezone`` (an IANA name such as ``"Europe/Berlin"``) when set;
- text: ISO-8601 (``2024-05-01``, ``2024-05-01 12:30:00``, ``...T12:30:00.25+02:00``, ``...Z``),
  optionally followed by a zone name as analytics exports write it (``2019-10-01 00:00:00 UTC``,
  ``GMT``, ``2024-03-01 10:00:00 Europe/Berlin``); zones and offsets may differ from row to row,
  and text without one is naive (as above). pandas parses the ISO part and the zone database
  (:mod:`zoneinfo`) resolves the names;
- epoch numbers (or strings of digits) in seconds, milliseconds, microseconds or nanoseconds, per
  ``[input] timestamp_unit``. With ``"auto"`` the unit is chosen once per column from the median
  magnitude: up to 1e11 seconds, up to 1e14 milliseconds, up to 1e17 microseconds, else
  nanoseconds (each band starts in 1973 and ends in year 5138 in its unit).

Local times that a clock change makes ambiguous take the first (summer-time) reading, and those
it skips move forward by the gap. The result is ``datetime64[us]`` restricted to the range every
pandas unit can hold (1677-09-22 to 2262-04-11), so a wrong unit surfaces as an error instead of
dates in the year 54000. Null, unparseable and out-of-range values raise
:class:`~eventlift.exceptions.TimestampError` with the first offending rows and the fix.
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
import re
import zoneinfo
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eventlift.exceptions import TimestampError, format_rows

__all__ = ["ACCEPTED_FORMATS", "AUTO_MS_THRESHOLD", "check_timezone", "parse_timestamps",
           "resolve_epoch_unit"]  # fmt: skip

AUTO_MS_THRESHOLD = 1e11  # epoch seconds below, milliseconds above (the first "auto" band)
_AUTO_BANDS = (("s", 1e11), ("ms", 1e14), ("us", 1e17))  # else "ns"
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
ACCEPTED_FORMATS = (
    "Accepted: datetime columns, ISO-8601 text such as '2024-05-01T12:30:00Z' or "
    "'2024-05-01 12:30:00+02:00', optionally followed by a zone name ('2019-10-01 00:00:00 UTC', "
    "'2024-03-01 10:00:00 Europe/Berlin'), or epoch numbers in seconds, milliseconds, "
    'microseconds or nanoseconds (set [input] timestamp_unit = "s", "ms", "us" or "ns"; "auto" '
    "decides by magnitude), between 1677-09-22 and 2262-04-11. Times without a zone are UTC "
    'unless [input] timezone names their zone (e.g. "Europe/Berlin"). Rows with a null '
    "timestamp must be filled or removed."
)

_MIN_US = -(-pd.Timestamp.min.value // 1000)  # the range every pandas unit can hold, in µs
_MAX_US = pd.Timestamp.max.value // 1000
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}
_NUMERIC_TEXT = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$"  # epoch numbers as text
_NUMERIC_PATTERN = re.compile(_NUMERIC_TEXT)
_NAME_AT_END = r"\s+[A-Za-z][\w+\-]*(?:/[\w+\-]+)*$"  # " UTC", " Europe/Berlin"
# "Z" or an offset after a time ("T10:00Z", " 10:00:00.5+02", "T100000-0530"); dates have none
_OFFSET = r"[T ]\d\d(?::?\d\d){0,2}(?:[.,]\d+)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"
_ZERO_OFFSET = r"(?:[zZ]|[+-]00(?::?00)?)$"
_OFFSETS = "UTC offsets"  # stands for every non-zero offset among the zones met
_UTC_NAMES = {"UTC", "GMT", "Z", "UT"}


def resolve_epoch_unit(values: np.ndarray, unit: str) -> str:
    """``unit`` itself, or for ``"auto"`` the unit the median magnitude of ``values`` points to.

    ``values`` holds epoch numbers, shape ``(n,)``; NaN and infinities are ignored.
    """
    if unit != "auto":
        return unit
    finite = np.abs(np.asarray(values, dtype="float64"))
    finite = finite[np.isfinite(finite)]
    median = float(np.median(finite)) if finite.size else 0.0
    return next((name for name, limit in _AUTO_BANDS if median <= limit), "ns")


def check_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The zone of an IANA name (``"Europe/Berlin"``), or ValueError saying what is accepted."""
    try:
        return zoneinfo.ZoneInfo("UTC" if name.upper() in _UTC_NAMES else name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone name: use an IANA name such as 'Europe/Berlin', "
            f"'America/New_York' or 'UTC'."
        ) from None


def parse_timestamps(
    values: pd.Series,
    *,
    column: str,
    unit: str = "auto",
    source: str = "<input>",
    timezone: str | None = None,
    notes: list[str] | None = None,
    locate: Callable[[np.ndarray], list[str]] | None = None,
) -> pd.Series:
    """Parse one event-time column into naive UTC datetimes, failing on any bad row.

    Parameters
    ----------
    values : pandas.Series
        The user's column, any dtype, in input order (its index is ignored).
    column, source : str
        The column's name and what it came from (a file path, ``"<DataFrame>"``), for messages.
    unit : {"auto", "s", "ms", "us", "ns"}
        How to read epoch numbers (see the module docstring for ``"auto"``).
    timezone : str or None
        IANA zone of naive times; None reads them as UTC.
    notes : list of str, optional
        Receives one sentence per decision worth telling the user (the epoch unit ``"auto"``
        chose, zones converted), so that the reader can report them.
    locate : callable, optional
        Names where rows sit in the input files (0-based positions in, ``"part-2.csv, line
        17"`` out), so that the message points at file lines rather than positions.

    Returns
    -------
    pandas.Series
        ``datetime64[us]``, naive UTC, same length and order as ``values``, with a RangeIndex.

    Raises
    ------
    TimestampError
        If any value is null, cannot be parsed, or falls outside 1677-09-22..2262-04-11; the
        message shows the count, up to five offending rows (where ``locate`` puts them, else
        ``row_number`` = 0-based input position) and the accepted formats.
    """
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.ArrowDtype):
        values = pa.array(values).to_pandas().rename(values.name)
    zone = check_timezone(timezone) if timezone else None
    parsed = np.full(len(values), np.datetime64("NaT", "us"))  # (n,)
    epoch_unit, zones = None, set()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        naive = not isinstance(values.dtype, pd.DatetimeTZDtype)
        zones = {str(zone if naive else values.dt.tz)} if zone or not naive else set()
        as_utc = values.dt.tz_localize("UTC") if naive else values.dt.tz_convert("UTC")
        parsed = _to_utc(as_utc, zone, np.full(len(values), naive))
    else:
        kind, data = _kinds(values)
        numeric = kind == "n"
        if numeric.any():
            epochs = _as_numbers(_take(data, numeric))
            epoch_unit = resolve_epoch_unit(epochs, unit)
            parsed[numeric] = _from_epoch(epochs, epoch_unit)
        if (kind == "s").any():
            text = _take(data, kind == "s")
            parsed[kind == "s"], zones = _from_text(pa.array(text, type=pa.string()), zone)
        if (kind == "d").any():
            parsed[kind == "d"], more = _from_datetimes(_take(data, kind == "d"), zone)
            zones |= more

    bad = np.isnat(parsed)  # (n,)
    if bad.any():
        raise TimestampError(
            _describe_failure(values, bad, column, source, epoch_unit, unit, locate)
        )
    if notes is not None:
        if epoch_unit and unit == "auto":
            notes.append(
                f"timestamp column {column!r}: epoch numbers read as {_UNIT_NAMES[epoch_unit]} "
                f"(detected by magnitude; set [input] timestamp_unit to override)."
            )
        named = sorted(zones - {"UTC", _OFFSETS})[:5]
        how = ["with UTC offsets"] * (_OFFSETS in zones) + [f"in {', '.join(named)}"] * bool(named)
        if how:
            notes.append(
                f"timestamp column {column!r}: times {' and '.join(how)} converted to UTC."
            )
    return pd.Series(parsed, name=values.name)


def _kinds(values: pd.Series) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """Per row "n" epoch number, "s" text, "d" datetime, "-" null, "x" unusable; and the values
    (an Arrow string array for a text column, else a numpy array)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.full(len(values), "x"), values.to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(values.dtype) and values.dtype.kind != "c":
        numbers_ = values.to_numpy(dtype="float64", na_value=np.nan)
        if values.dtype.kind in "iu" and not values.isna().any():
            numbers_ = values.to_numpy(dtype="int64")  # ns epochs do not fit a float exactly
        return np.where(pd.isna(numbers_), "-", "n"), numbers_
    if pd.api.types.is_string_dtype(values.dtype) or pd.api.types.infer_dtype(
        values, skipna=True
    ) in ("string", "empty"):
        text = pa.array(values.astype("string"), type=pa.string(), from_pandas=True)  # (n,)
        text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
        kind = np.where(_matches(text, _NUMERIC_TEXT), "n", "s")
        kind[text.is_null().to_numpy(zero_copy_only=False)] = "-"
        return kind, text
    objects = values.astype(object).to_numpy()
    return np.array([_kind(value) for value in objects], dtype="<U1"), objects


def _kind(value: object) -> str:
    """One object of a mixed column, classified as in :func:`_kinds`."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "x"
    if isinstance(value, numbers.Real | decimal.Decimal):
        return "-" if isinstance(value, float | np.floating) and np.isnan(value) else "n"
    if isinstance(value, str):
        return "n" if _NUMERIC_PATTERN.match(value) else "s"
    return "d" if isinstance(value, dt.date | np.datetime64) else "x"


def _from_epoch(values: np.ndarray, unit: str) -> np.ndarray:
    """Epoch numbers (shape ``(n,)``) in ``unit`` -> ``datetime64[us]``; NaT when invalid.

    Integers convert exactly; for floats, whole and fractional parts are scaled apart so that
    integral values (also an integer column widened to float by a NaN) convert exactly.
    """
    result = np.full(values.shape, np.iinfo(np.int64).min, dtype=np.int64)  # NaT everywhere
    integers = values.dtype.kind in "iu"
    if unit == "ns":  # whole microseconds, as every other unit
        values, unit = (values // 1000 if integers else values / 1000), "us"
    scale = _US_PER_UNIT[unit]
    if integers:
        ok = (values >= _MIN_US // scale) & (values <= _MAX_US // scale)
        result[ok] = values[ok].astype(np.int64) * scale
        return result.view("datetime64[us]")
    values = values.astype("float64")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= _MIN_US / scale) & (values <= _MAX_US / scale)
    whole = np.floor(values[ok])
    micros = whole.astype(np.int64) * scale + np.rint((values[ok] - whole) * scale).astype(np.int64)
    micros[(micros < _MIN_US) | (micros > _MAX_US)] = np.iinfo(np.int64).min
    result[ok] = micros
    return result.view("datetime64[us]")


def _take(column: np.ndarray | pa.Array, rows: np.ndarray) -> np.ndarray | pa.Array:
    """The ``rows`` (a boolean mask) of a numpy or an Arrow column."""
    return pc.filter(column, pa.array(rows)) if isinstance(column, pa.Array) else column[rows]


def _as_numbers(values: np.ndarray | pa.Array) -> np.ndarray:
    """Epoch numbers as int64 where all are integers (exact up to nanoseconds), else float64."""
    if isinstance(values, pa.Array):
        values = values.to_pandas().to_numpy(dtype=object)
    if values.dtype.kind in "if":
        return values
    numbers_ = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy()
    return numbers_ if numbers_.dtype.kind in "if" else numbers_.astype("float64")


def _from_text(strings: pa.Array, zone: zoneinfo.ZoneInfo | None) -> tuple[np.ndarray, set[str]]:
    """ISO-8601 strings, each with an optional offset or trailing zone name, -> naive UTC.

    Returns the ``datetime64[us]`` values (NaT where unreadable) and the zones met.
    """
    strings = pc.utf8_trim_whitespace(strings)
    last = pc.utf8_slice_codeunits(strings, -1)  # a zone name ends in a letter other than "Z"
    letters = pc.and_(pc.utf8_is_alpha(last), pc.invert(pc.is_in(last, pa.array(["Z", "z"]))))
    named = np.zeros(len(strings), dtype=bool)  # (n,)
    if pc.any(letters).as_py():
        named = _matches(strings, _NAME_AT_END)
    names = np.full(len(strings), "", dtype=object)
    clock = strings
    if named.any():
        clock = pc.replace_substring_regex(strings, _NAME_AT_END, "")
        last_word = pc.replace_substring_regex(strings, r"^.*\s", "")
        names[named] = last_word.to_numpy(zero_copy_only=False)[named]
    aware = _matches(clock, _OFFSET)  # (n,) an offset or "Z" follows the time
    result = np.full(len(strings), np.datetime64("NaT", "us"))
    zones = {str(zone)} if zone is not None and not (aware | named).all() else set()
    if aware.any() and (aware & ~_matches(clock, _ZERO_OFFSET)).any():
        zones.add(_OFFSETS)
    for name in pd.unique(names):
        rows = names == name
        try:
            named_zone = check_timezone(name) if name else zone
        except ValueError:
            continue  # an unknown zone name: those rows stay NaT and are reported
        if name:
            zones.add(str(named_zone))
        part = clock if rows.all() else pc.filter(clock, pa.array(rows))
        part = pd.Series(part.to_numpy(zero_copy_only=False), dtype=object)
        local = pd.to_datetime(part, format="ISO8601", utc=True, errors="coerce")
        result[rows] = _to_utc(local, named_zone, ~aware[rows])
    return result, zones


def _from_datetimes(
    values: np.ndarray, zone: zoneinfo.ZoneInfo | None
) -> tuple[np.ndarray, set[str]]:
    """Datetime objects of a mixed column (naive or zoned) -> naive UTC, and the zones met."""
    naive = np.array([getattr(v, "tzinfo", None) is None for v in values], dtype=bool)
    zones = {str(v.tzinfo) for v in values[~naive]} | (
        {str(zone)} if zone and naive.any() else set()
    )
    try:
        parsed = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce")
    except (ValueError, TypeError, OverflowError):
        return np.full(len(values), np.datetime64("NaT", "us")), zones
    return _to_utc(parsed, zone, naive), zones


def _matches(strings: pa.Array, pattern: str) -> np.ndarray:
    """Which of ``strings`` (shape ``(n,)``) match the regular expression; nulls do not."""
    found = pc.match_substring_regex(strings, pattern).fill_null(False)
    return found.to_numpy(zero_copy_only=False)


def _to_utc(values: pd.Series, zone: zoneinfo.ZoneInfo | None, naive: np.ndarray) -> np.ndarray:
    """UTC datetimes whose ``naive`` rows were wall-clock times in ``zone`` -> naive UTC."""
    values = values.dt.tz_localize(None)
    if zone is not None and str(zone) != "UTC" and naive.any():
        local = values[naive].dt.tz_localize(
            zone, ambiguous=np.ones(int(naive.sum()), bool), nonexistent="shift_forward"
        )
        values = values.copy()
        values[naive] = local.dt.tz_convert("UTC").dt.tz_localize(None)
    in_range = (values >= pd.Timestamp.min.ceil("us")) & (values <= pd.Timestamp.max.floor("us"))
    return values.where(in_range).dt.as_unit("us").to_numpy()


def _describe_failure(
    values: pd.Series,
    bad: np.ndarray,
    column: str,
    source: str,
    epoch_unit: str | None,
    unit: str,
    locate: Callable[[np.ndarray], list[str]] | None,
) -> str:
    """The TimestampError message: counts, the first offending rows and the fix."""
    positions = np.flatnonzero(bad)
    n_null = int(values.isna().to_numpy()[positions].sum())
    shown = values.iloc[positions[:5]].astype(object)
    if locate is not None:
        places, explained = [{"at": at} for at in locate(positions[:5])], ""
    else:
        places = [{"row_number": int(i)} for i in positions[:5]]
        explained = " (row_number is the 0-based position in the input)"
    rows = [
        {**place, column: None if _kind(value) == "-" else value}
        for place, value in zip(places, shown, strict=True)
    ]
    null_note = f", {n_null} of them null" if n_null else ""
    unit_note = ""
    if epoch_unit is not None:
        how = "configured" if unit != "auto" else "chosen by [input] timestamp_unit = 'auto'"
        unit_note = (
            f" Epoch numbers were read as {_UNIT_NAMES[epoch_unit]} ({how}); dates out of range "
            f"usually mean the wrong unit."
        )
    return (
        f"{source}: {len(positions)} of {len(values)} rows in timestamp column {column!r} cannot "
        f"be read as timestamps{null_note}. First offending rows{explained}:\n"
        f"{format_rows(rows)}\n{ACCEPTED_FORMATS}{unit_note}"
    )
