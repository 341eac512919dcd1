"""Measurements of one column of a sample, the content half of proposing its role.

Each test answers one question the role proposal asks of a column: does it read as event times
(with eventlift's own parser, the epoch unit read from the numbers' magnitude), as numbers, as
the reader's text tokens; how does it group rows in time; is it a function of another column;
does it change within a session. They stay apart from the naming rules so that each can be
checked on its own.
"""

from __future__ import annotations

import re
import typing

import numpy as np
import pandas as pd

from eventlift.config import InputConfig
from eventlift.data.timestamps import parse_timestamps
from eventlift.exceptions import EventliftError

__all__ = [
    "SESSION_GAP_MINUTES",
    "as_text",
    "determined_share",
    "epoch_unit",
    "group_shape",
    "is_integral",
    "numbers",
    "time_reading",
    "varies_within",
]

SESSION_GAP_MINUTES = 30.0
_PLAUSIBLE = (pd.Timestamp("1995-01-01"), pd.Timestamp("2100-01-01"))
_EPOCH_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}  # units per second
_DATE_LIKE = re.compile(r"\d[-/.:]\d")
_ZONE_SUFFIX = re.compile(  # a clock, then Z, an offset or a zone name
    r"\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d:?\d\d|[A-Za-z_]+(/[A-Za-z_]+)*)\s*$"
)
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def as_text(values: pd.Series) -> pd.Series:
    """Values as the reader's text tokens: integral floats without ``.0``, NA for nulls."""
    if pd.api.types.is_float_dtype(values.dtype):
        found = values.to_numpy(dtype="float64", na_value=np.nan)
        if is_integral(found):
            return pd.Series(pd.array(found, dtype="Float64")).astype("Int64").astype("string")
    if pd.api.types.is_object_dtype(values.dtype):
        values = values.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return values.astype("string").reset_index(drop=True)


def numbers(values: pd.Series) -> np.ndarray | None:
    """The values as floats when every non-null one is a number (or numeric text), else None."""
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(
        values.dtype
    ):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    present = values.dropna()
    head = present.head(1000)
    if head.empty or not all(isinstance(v, str | int | float) for v in head):
        return None
    if pd.to_numeric(head, errors="coerce").isna().any():  # text: decided on the first rows
        return None
    parsed = pd.to_numeric(values, errors="coerce")
    if parsed.notna().sum() < len(present):
        return None
    return parsed.to_numpy(dtype="float64", na_value=np.nan)


def epoch_unit(values: np.ndarray) -> str | None:
    """The unit in which these numbers are plausible event times (1995-2100), if any."""
    finite = np.abs(values[np.isfinite(values)])
    if finite.size == 0:
        return None
    low, high = (t.value / 1e9 for t in _PLAUSIBLE)  # seconds
    median = float(np.median(finite))
    for unit, scale in _EPOCH_SCALE.items():
        if low * scale <= median <= high * scale:
            return unit
    return None


def time_reading(values: pd.Series, name: str, label: str) -> tuple[np.ndarray, str, str] | None:
    """Read a column as event times: (seconds since the epoch, shape ``(n,)`` with NaN for nulls;
    the epoch unit or ""; a sentence), or None when it does not read as plausible event times."""
    allowed = typing.get_args(typing.get_type_hints(InputConfig)["timestamp_unit"])
    present = values.dropna()
    found = numbers(present)
    unit = ""
    if present.empty:
        return None
    if found is not None:
        unit = epoch_unit(found) or ""
        if not unit or unit not in allowed:
            return None
    elif not pd.api.types.is_datetime64_any_dtype(values.dtype) and not _looks_like_times(present):
        return None
    notes: list[str] = []
    try:
        parsed = parse_timestamps(
            present, column=name, unit=unit or "auto", source=label, notes=notes
        )
    except EventliftError:
        return None
    low, high = parsed.min(), parsed.max()
    if low < _PLAUSIBLE[0] or high > _PLAUSIBLE[1]:
        return None
    shown = f"{low:%Y-%m-%d %H:%M} .. {high:%Y-%m-%d %H:%M} UTC"
    if unit:
        how = f"epoch {_UNIT_WORDS[unit]} (values ~{np.nanmedian(found):.3g})"
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        how = "datetimes"
    else:
        how = f"text like {str(present.iloc[0])!r}"
    zones = [note.split(": ", 1)[-1].rstrip(".") for note in notes if "UTC" in note]
    if zones:
        shown += f" ({'; '.join(zones)})"
    elif not unit and not isinstance(values.dtype, pd.DatetimeTZDtype) and not _zoned(present):
        shown += " (no zone given: read as UTC; [input] timezone names it if they are local times)"
    seconds = np.full(len(values), np.nan)
    seconds[values.notna().to_numpy()] = parsed.to_numpy("datetime64[us]").astype(np.int64) / 1e6
    return seconds, unit, f"{how}, {shown}"


def _zoned(values: pd.Series) -> bool:
    """Text whose first values end in a zone: ``Z``, an offset, or a name (``UTC``, IANA)."""
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return False
    return all(_ZONE_SUFFIX.search(str(value)) for value in values.head(20))


def _looks_like_times(values: pd.Series) -> bool:
    """Text whose first values hold date or clock parts (``2024-05-01``, ``10:00``, ``1/2``)."""
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return False
    return all(_DATE_LIKE.search(str(value)) for value in values.head(20))


def group_shape(keys: pd.Series, times: np.ndarray) -> dict[str, float]:
    """Sizes of the groups a key forms and how many hold a gap longer than a session's."""
    frame = pd.DataFrame({"key": keys.to_numpy(), "t": times}).dropna().sort_values(["key", "t"])
    same = frame["key"].to_numpy()[1:] == frame["key"].to_numpy()[:-1]
    long_gap = same & (np.diff(frame["t"].to_numpy()) > SESSION_GAP_MINUTES * 60)
    sizes = frame.groupby("key", sort=False).size()
    multi = int((sizes > 1).sum())
    holding = frame["key"].iloc[1:][long_gap].nunique()
    return {
        "groups": float(len(sizes)),
        "median": float(sizes.median()),
        "min": float(sizes.min()),
        "max": float(sizes.max()),
        "long_share": holding / multi if multi else 0.0,
    }


def determined_share(by: pd.Series, values: pd.Series) -> float:
    """Share of rows whose value is the most common one for their ``by`` (1.0: a function)."""
    frame = pd.DataFrame({"by": by.to_numpy(), "v": values.to_numpy()}).dropna()
    if frame.empty:
        return 0.0
    counts = frame.groupby(["by", "v"], sort=False).size()
    return float(counts.groupby(level=0).max().sum() / len(frame))


def varies_within(keys: pd.Series, values: pd.Series) -> float:
    """Share of multi-event groups of ``keys`` holding more than one distinct value."""
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()}).dropna()
    grouped = frame.groupby("k", sort=False)["v"]
    multi = grouped.size() > 1
    return float((grouped.nunique()[multi] > 1).mean()) if multi.any() else 0.0


def is_integral(values: np.ndarray) -> bool:
    """Whether every non-NaN number (shape ``(n,)``) is whole: ids and codes, not measures."""
    return bool(np.all(np.isnan(values) | (np.floor(values) == values)))
