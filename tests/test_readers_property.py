"""Generated tables read to exactly the expected frame, or fail with the one error they deserve.

Hypothesis draws tables whose columns are a random subset of the mapped ones (each mapped column
present 19 times in 20), filled with one kind of value each: ids as integers, text, integers
widened to float by a null, codes written ``4`` and ``4.0``, or nulls; timestamps as epoch
seconds or milliseconds, ISO text with or without an offset, text with a zone name, zoned
datetimes, or a kind no reader should accept (garbage text, booleans, nulls), and now and then a
single null in a valid column. Each table is read as a DataFrame, as an Arrow table and as a CSV
file. The expectation is computed independently of the reader: a missing mapped column is a
MissingColumnError, no rows an EmptyInputError, any unreadable timestamp a TimestampError, and
otherwise every row comes back in order with the exact instants and tokens.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlift.config import Config
from eventlift.data.readers import read_events
from eventlift.data.schema import CANONICAL_COLUMNS, ROW_NUMBER
from eventlift.exceptions import EmptyInputError, MissingColumnError, TimestampError

MAPPED = {"session_id": "session_id", "user_id": "user_id", "store_id": "store_id"}
CONFIG = Config.from_dict({"columns": MAPPED})
TOKEN_COLUMNS = ("session_id", "user_id", "event", "store_id")
REQUIRED = (*TOKEN_COLUMNS, "timestamp")
UTC = dt.timezone.utc
ZONES = st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=-7, minutes=-30))])
MOMENTS = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1))
EPOCH_S = (0, 4_102_444_800)  # 1970..2100 in seconds: below 1e11, so "auto" reads seconds
EPOCH_MS = (10**11 + 1, 4_102_444_800_000)  # above 1e11: milliseconds

ID_KINDS = {
    "ints": st.integers(-(10**12), 10**12),
    "text": st.text(alphabet="abcxyz0123456789.", min_size=1, max_size=6),
    "widened": st.one_of(st.none(), st.integers(0, 10**6).map(float)),
    "codes": st.integers(0, 9).flatmap(lambda n: st.sampled_from([n, float(n)])),
    "nulls": st.none(),
}
TIME_KINDS = {
    "epoch_s": st.integers(*EPOCH_S),
    "epoch_ms": st.integers(*EPOCH_MS),
    "iso": st.tuples(MOMENTS, st.none() | ZONES),
    "zone_name": st.tuples(MOMENTS, st.sampled_from(["UTC", "GMT"])),
    "zoned": st.tuples(MOMENTS, ZONES),
}
INVALID_TIMES = {
    "garbage": st.sampled_from(["yesterday", "2024-13-45", "NaT", "1e400", "--", "12:00"]),
    "bools": st.booleans(),
    "nulls": st.none(),
}


def to_utc(moment: dt.datetime, zone: dt.tzinfo | None) -> pd.Timestamp:
    """The instant a wall-clock time in ``zone`` (None: UTC) stands for, naive UTC."""
    aware = moment.replace(tzinfo=zone or UTC)
    return pd.Timestamp(aware.astimezone(UTC).replace(tzinfo=None))


def render_time(kind: str, value: object) -> tuple[object, pd.Timestamp]:
    """The value as the table holds it, and the instant it stands for."""
    if kind == "epoch_s":
        return value, pd.Timestamp(value, unit="s")
    if kind == "epoch_ms":
        return value, pd.Timestamp(value, unit="ms")
    moment, zone = value
    if kind == "iso":
        text = moment.isoformat() if zone is None else moment.replace(tzinfo=zone).isoformat()
        return text, to_utc(moment, zone)
    if kind == "zone_name":
        return f"{moment:%Y-%m-%d %H:%M:%S} {zone}", to_utc(moment.replace(microsecond=0), UTC)
    return moment.replace(tzinfo=zone), to_utc(moment, zone)


def expected_tokens(values: list) -> list[str | None]:
    """The reader's contract for id text: integers print without ".0", nulls stay null."""
    tokens = []
    for value in values:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            tokens.append(None)
        elif isinstance(value, float) and value.is_integer():
            tokens.append(str(int(value)))
        else:
            tokens.append(str(value))
    present = [t for t in tokens if t is not None]
    if present and all(re.fullmatch(r"[+-]?\d+(?:\.0+)?", t) for t in present):
        tokens = [t if t is None else re.sub(r"\.0+$", "", t) for t in tokens]
    return tokens


@st.composite
def cases(draw: st.DrawFn) -> tuple[pd.DataFrame, object]:
    """A table and what reading it must give: an error class, or the expected frame columns."""
    n_rows = draw(st.integers(0, 6))
    present = [c for c in REQUIRED if draw(st.sampled_from([True] * 19 + [False]))]
    columns, expected = {}, {}
    for name in present:
        if name == "timestamp":
            valid = draw(st.booleans()) or draw(st.booleans())
            pool = TIME_KINDS if valid else INVALID_TIMES
            kind = draw(st.sampled_from(sorted(pool)))
            raw = draw(st.lists(pool[kind], min_size=n_rows, max_size=n_rows))
            if valid:
                rendered = [render_time(kind, value) for value in raw]
                cells = [cell for cell, _ in rendered]
                expected[name] = [instant for _, instant in rendered]
                if n_rows and draw(st.integers(0, 5)) == 0:  # one null in a valid column
                    cells[draw(st.integers(0, n_rows - 1))] = None
                    valid = False
            else:
                cells = raw
            columns[name] = pd.Series(cells, dtype=object)
            expected["timestamp_valid"] = valid
        else:
            kind = draw(st.sampled_from(sorted(ID_KINDS)))
            cells = draw(st.lists(ID_KINDS[kind], min_size=n_rows, max_size=n_rows))
            columns[name] = pd.Series(cells, dtype=object if kind in ("codes", "nulls") else None)
            expected[name] = expected_tokens(cells)
    table = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    if not present or (n_rows == 0 and set(present) == set(REQUIRED)):
        return table, EmptyInputError
    if set(present) != set(REQUIRED):
        return table, MissingColumnError
    return table, expected if expected["timestamp_valid"] else TimestampError


def check(source: object, expected: object) -> None:
    if isinstance(expected, type):
        with pytest.raises(expected):
            read_events(source, CONFIG)
        return
    frame = read_events(source, CONFIG)
    n_rows = len(expected["timestamp"])
    assert list(frame.columns) == list(CANONICAL_COLUMNS)
    assert frame[ROW_NUMBER].tolist() == list(range(n_rows))
    assert frame["timestamp"].dtype == "datetime64[us]"
    assert frame["timestamp"].tolist() == expected["timestamp"]
    for role in TOKEN_COLUMNS:
        got = frame[role].astype(object).where(frame[role].notna(), None).tolist()
        assert got == expected[role], role
    for role in ("event_category", "event_detail", "store_name"):
        assert frame[role].isna().all(), role  # unmapped


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_generated_tables_read_exactly_or_raise_the_right_error(case) -> None:
    table, expected = case
    check(table, expected)
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        arrow = None  # mixed Python objects (zoned datetimes of two offsets) Arrow cannot type
    if arrow is not None:
        check(arrow, expected)
    if table.columns.empty:
        return  # pandas writes no CSV header for no columns
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.csv"
        table.to_csv(path, index=False)
        check(path, expected)
