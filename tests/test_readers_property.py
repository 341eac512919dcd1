"""Malformed tables either read into the canonical frame or fail with an eventlift error.

Hypothesis draws random subsets of the mapped columns filled with random kinds of values (integers,
floats with NaN and infinities, text, garbage or valid timestamps, all-null, mixed objects, zoned
datetimes) and feeds them to ``read_events`` as a DataFrame, as an Arrow table and as a CSV file.
Any other exception, or a "success" that loses rows or breaks the schema, is a bug.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlift.config import Config
from eventlift.data.readers import read_events
from eventlift.data.schema import CANONICAL_COLUMNS, ROW_NUMBER
from eventlift.exceptions import EventliftError

CONFIG = Config.from_dict({"columns": {"user_id": "user_id", "store_id": "store_id"}})
COLUMN_POOL = ("session_id", "user_id", "timestamp", "event", "store_id", "extra")
ZONES = st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-7, minutes=-30))])

SCALARS = {
    "ints": st.integers(-(2**63), 2**63 - 1),
    "epochs": st.integers(0, 2_000_000_000_000),
    "floats": st.floats(allow_nan=True, allow_infinity=True),
    "text": st.text(max_size=6),
    "iso": st.datetimes(timezones=st.none() | ZONES).map(lambda d: d.isoformat()),
    "garbage": st.sampled_from(["yesterday", "2024-13-45", "", "NaT", "1e400", "--", " 12 "]),
    "nulls": st.none(),
    "bools": st.booleans(),
    "zoned": st.datetimes(timezones=ZONES),
    "mixed": st.one_of(
        st.none(), st.integers(), st.floats(), st.text(max_size=4), st.booleans(), st.datetimes()
    ),
}


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    """A frame of 0-8 rows whose columns are a random subset of the pool, each of one kind."""
    n_rows = draw(st.integers(0, 8))
    names = draw(st.lists(st.sampled_from(COLUMN_POOL), unique=True, max_size=len(COLUMN_POOL)))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(SCALARS)))
        values = draw(st.lists(SCALARS[kind], min_size=n_rows, max_size=n_rows))
        columns[name] = pd.Series(values, dtype=object if kind in ("mixed", "nulls") else None)
    return pd.DataFrame(columns, index=pd.RangeIndex(n_rows))


def check_result(source: object, n_rows: int) -> None:
    """Success must keep every row in order with the canonical schema; failure must be ours."""
    try:
        frame = read_events(source, CONFIG)
    except EventliftError:
        return
    assert list(frame.columns) == list(CANONICAL_COLUMNS)
    assert len(frame) == n_rows
    assert frame[ROW_NUMBER].tolist() == list(range(n_rows))
    assert frame[ROW_NUMBER].dtype == np.int64
    assert frame["timestamp"].dtype.kind == "M"
    assert frame["timestamp"].dt.tz is None
    assert frame["timestamp"].notna().all()
    for role in CANONICAL_COLUMNS:
        if role not in ("timestamp", ROW_NUMBER):
            assert str(frame[role].dtype) == "string", role
    for role in ("event_category", "event_detail", "store_name"):
        assert frame[role].isna().all(), role  # unmapped in CONFIG


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables())
def test_malformed_tables_read_or_raise_eventlift_errors(table: pd.DataFrame) -> None:
    check_result(table, len(table))
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        arrow = None  # mixed Python objects that Arrow itself cannot type
    if arrow is not None:
        check_result(arrow, len(table))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.csv"
        table.to_csv(path, index=False)
        check_result(path, len(table))
