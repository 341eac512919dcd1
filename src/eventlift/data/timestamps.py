"""Turn a user's event-time column into naive UTC datetimes, or say exactly which rows fail.

Accepted inputs (DESIGN §2):

- datetime columns: naive values are taken as UTC; zone-aware values are converted to UTC and
  the zone is dropped;
- ISO-8601 strings (``2024-05-01``, ``2024-05-01 12:30:00``, ``2024-05-01T12:30:00.25+02:00``,
  ``...Z``); offsets may differ from row to row, strings without one are taken as UTC;
- epoch numbers (or strings of digits) in seconds or milliseconds, per ``[input] timestamp_unit``.
  With ``"auto"`` the unit is chosen once per column by magnitude: milliseconds when the median
  absolute value exceeds :data:`AUTO_MS_THRESHOLD` (1e11, i.e. later than 1973-03-03 read as ms,
  or later than year 5138 read as seconds), seconds otherwise. Numbers are never read as
  nanoseconds.

The result is ``datetime64[us]`` (the unit pandas and Parquet readers agree on) restricted to the
range every pandas unit can hold (1677-09-22 to 2262-04-11), so that a wrong unit surfaces as an
error instead of dates in the year 54000. Null, unparseable and out-of-range values are errors:
:class:`~eventlift.exceptions.TimestampError` lists the first offending rows and the fix.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import numbers
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eventlift.exceptions import TimestampError, format_rows

__all__ = ["ACCEPTED_FORMATS", "AUTO_MS_THRESHOLD", "parse_timestamps", "resolve_epoch_unit"]

logger = logging.getLogger(__name__)

AUTO_MS_THRESHOLD = 1e11
ACCEPTED_FORMATS = (
    "Accepted: datetime columns (naive = UTC), ISO-8601 strings such as '2024-05-01T12:30:00Z' "
    "or '2024-05-01 12:30:00+02:00', or epoch numbers in seconds or milliseconds "
    '(set [input] timestamp_unit = "s" or "ms"; "auto" reads ms when the median magnitude '
    f"exceeds {AUTO_MS_THRESHOLD:g}), between 1677-09-22 and 2262-04-11. Rows with a null "
    "timestamp must be filled or removed."
)

# The range every pandas datetime unit can hold, in microseconds since the epoch.
_MIN_US = -(-pd.Timestamp.min.value // 1000)
_MAX_US = pd.Timestamp.max.value // 1000
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000}
_NUMERIC_TEXT = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$"  # epoch numbers as text
_NUMERIC_PATTERN = re.compile(_NUMERIC_TEXT)


def resolve_epoch_unit(values: np.ndarray, unit: str) -> str:
    """Return ``"s"`` or ``"ms"`` for epoch numbers: ``unit`` itself, or the magnitude rule.

    Parameters
    ----------
    values : numpy.ndarray
        Epoch numbers, shape ``(n,)``, float; NaN and infinities are ignored.
    unit : {"auto", "s", "ms"}
        The configured ``[input] timestamp_unit``.
    """
    if unit != "auto":
        return unit
    finite = np.abs(values[np.isfinite(values)])
    if finite.size and float(np.median(finite)) > AUTO_MS_THRESHOLD:
        return "ms"
    return "s"


def parse_timestamps(
    values: pd.Series, *, column: str, unit: str = "auto", source: str = "<input>"
) -> pd.Series:
    """Parse one event-time column into naive UTC datetimes, failing on any bad row.

    Parameters
    ----------
    values : pandas.Series
        The user's column, any dtype, in input order (its index is ignored).
    column : str
        The column's name in the input, for the error message.
    unit : {"auto", "s", "ms"}
        How to read epoch numbers (see the module docstring for the ``"auto"`` rule).
    source : str
        What the column came from (a file path, ``"<DataFrame>"``...), for the error message.

    Returns
    -------
    pandas.Series
        ``datetime64[us]``, naive UTC, same length and order as ``values``, with a RangeIndex.

    Raises
    ------
    TimestampError
        If any value is null, cannot be parsed, or falls outside 1677-09-22..2262-04-11; the
        message shows the count, up to five offending rows (``row_number`` = 0-based input
        position) and the accepted formats.
    """
    values = _numpy_backed(values.reset_index(drop=True))
    epoch_unit: str | None = None
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = _from_datetimes(values)
    elif pd.api.types.is_bool_dtype(values.dtype):
        parsed = np.full(len(values), np.datetime64("NaT", "us"))
    elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_complex_dtype(
        values.dtype
    ):
        numbers_ = values.to_numpy(dtype="float64", na_value=np.nan)  # (n,)
        epoch_unit = resolve_epoch_unit(numbers_, unit)
        parsed = _from_epoch(numbers_, epoch_unit)
    else:
        parsed, epoch_unit = _from_objects(values, unit)

    bad = np.isnat(parsed)  # (n,)
    if bad.any():
        raise TimestampError(_describe_failure(values, bad, column, source, epoch_unit, unit))
    return pd.Series(parsed, name=values.name)


def _numpy_backed(values: pd.Series) -> pd.Series:
    """Arrow-backed columns become their numpy/pandas equivalent, keeping time zones."""
    if isinstance(values.dtype, pd.ArrowDtype):
        return pa.array(values).to_pandas().rename(values.name)
    return values


def _from_datetimes(values: pd.Series) -> np.ndarray:
    """Datetimes (any unit, naive or zoned) -> naive UTC ``datetime64[us]``; NaT out of range."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    in_range = (values >= pd.Timestamp.min.ceil("us")) & (values <= pd.Timestamp.max.floor("us"))
    values = values.where(in_range)
    return values.dt.as_unit("us").to_numpy()


def _from_epoch(values: np.ndarray, unit: str) -> np.ndarray:
    """Epoch numbers (float, shape ``(n,)``) in ``unit`` -> ``datetime64[us]``; NaT when invalid.

    Whole and fractional parts are scaled apart so that integral values (the usual case, also
    when an integer column was widened to float by a NaN) convert exactly.
    """
    scale = _US_PER_UNIT[unit]
    result = np.full(values.shape, np.iinfo(np.int64).min, dtype=np.int64)  # NaT everywhere
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= _MIN_US / scale) & (values <= _MAX_US / scale)
    whole = np.floor(values[ok])
    micros = whole.astype(np.int64) * scale + np.rint((values[ok] - whole) * scale).astype(np.int64)
    micros[(micros < _MIN_US) | (micros > _MAX_US)] = np.iinfo(np.int64).min
    result[ok] = micros
    return result.view("datetime64[us]")


def _from_objects(values: pd.Series, unit: str) -> tuple[np.ndarray, str | None]:
    """Strings, or a mix of strings, numbers and datetimes, element by element.

    Returns the parsed ``datetime64[us]`` array (shape ``(n,)``) and the epoch unit used, or None
    when no value was an epoch number.
    """
    result = np.full(len(values), np.datetime64("NaT", "us"))
    if pd.api.types.is_string_dtype(values.dtype) or pd.api.types.infer_dtype(
        values, skipna=True
    ) in ("string", "empty"):
        objects = values.astype("string").astype(object).to_numpy()  # (n,), NA for nulls
        text = pa.array(objects, type=pa.string(), from_pandas=True)
        numeric = pc.match_substring_regex(text, _NUMERIC_TEXT).fill_null(False)
        kind = np.where(numeric.to_numpy(zero_copy_only=False), "n", "s")
        kind[pd.isna(objects)] = "-"
    else:
        objects = values.astype(object).to_numpy()
        kind = np.array([_kind(value) for value in objects], dtype="<U1")  # (n,)

    epoch_unit = None
    numeric = kind == "n"
    if numeric.any():
        epochs = pd.to_numeric(pd.Series(objects[numeric]), errors="coerce")
        epochs = epochs.to_numpy(dtype="float64", na_value=np.nan)
        epoch_unit = resolve_epoch_unit(epochs, unit)
        result[numeric] = _from_epoch(epochs, epoch_unit)
    for code, fmt in (("s", "ISO8601"), ("d", None)):
        mask = kind == code
        if mask.any():
            parsed = pd.to_datetime(
                pd.Series(objects[mask], dtype=object), utc=True, format=fmt, errors="coerce"
            )
            result[mask] = _from_datetimes(parsed)
    return result, epoch_unit


def _kind(value: object) -> str:
    """Classify one object: "n" epoch number, "s" text, "d" datetime, "-" null, "x" unusable."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "x"
    if isinstance(value, numbers.Real | decimal.Decimal):
        return "-" if isinstance(value, float | np.floating) and np.isnan(value) else "n"
    if isinstance(value, str):
        return "n" if _NUMERIC_PATTERN.match(value) else "s"
    if isinstance(value, dt.date | np.datetime64):
        return "d"
    return "x"


def _describe_failure(
    values: pd.Series,
    bad: np.ndarray,
    column: str,
    source: str,
    epoch_unit: str | None,
    unit: str,
) -> str:
    """The TimestampError message: counts, the first offending rows and the fix."""
    positions = np.flatnonzero(bad)
    n_null = int(values.isna().to_numpy()[positions].sum())
    shown = values.iloc[positions[:5]].astype(object)
    rows = [
        {"row_number": int(i), column: None if _kind(value) == "-" else value}
        for i, value in zip(positions[:5], shown, strict=True)
    ]
    null_note = f", {n_null} of them null" if n_null else ""
    unit_note = ""
    if epoch_unit is not None:
        how = "configured" if unit != "auto" else "chosen by [input] timestamp_unit = 'auto'"
        unit_note = (
            f" Epoch numbers were read as {'milliseconds' if epoch_unit == 'ms' else 'seconds'} "
            f"({how}); dates out of range usually mean the wrong unit."
        )
    logger.debug("timestamp column %r: %d bad rows", column, len(positions))
    return (
        f"{source}: {len(positions)} of {len(values)} rows in timestamp column {column!r} cannot "
        f"be read as timestamps{null_note}. First offending rows (row_number is the 0-based "
        f"position in the input):\n{format_rows(rows)}\n{ACCEPTED_FORMATS}{unit_note}"
    )
