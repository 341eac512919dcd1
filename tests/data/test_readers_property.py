"""Generated tables read to exactly the expected frame, or fail with the one error they deserve.

Two kinds of tables are drawn, and each is read as a DataFrame, as an Arrow table and as a CSV
file. Readable tables hold every mapped column and 1-6 rows, each column filled with one kind of
value: ids as integers, text, integers widened to float by a null, codes written ``4`` and
``4.0``, or nulls; timestamps as epoch seconds or milliseconds, ISO text with or without an
offset, text with a zone name, or zoned datetimes. Every one of them must be read, from every
source, with every row back in order and the exact instants and tokens, computed independently
of the reader. Defective tables have exactly one defect, and must raise exactly one error type
(not a subclass or a sibling) whose message starts with the source's label and holds the parts
that name the defect: mapped columns left out (a MissingColumnError naming each absent role and
the columns found, even when the timestamps are unreadable too), no rows or no columns (an
EmptyInputError saying which), timestamps no reader accepts (garbage text, booleans, nulls) or
one null in a readable column (a TimestampError counting the bad and the null rows and naming
the first by row number, or by file line for the CSV). Last, a small synthetic log written as
a well-formed export in any combination of :func:`write_export`'s styles (timestamp style,
format, compression, parts, separator, byte order mark, line ends, float ids, numeric event
codes) is never rejected and reads back to every event exactly.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlift.config import Config
from eventlift.data.exports import TIMESTAMP_STYLES, event_codes, id_numbers, write_export
from eventlift.data.readers import read_events
from eventlift.data.schema import CANONICAL_COLUMNS, ROW_NUMBER
from eventlift.exceptions import (
    EmptyInputError,
    EventliftError,
    MissingColumnError,
    TimestampError,
)

MAPPED = {"session_id": "session_id", "user_id": "user_id", "store_id": "store_id"}
CONFIG = Config.from_dict({"columns": MAPPED})
EXPORT_ROLES = ("session_id", "user_id", "event", "event_category", "store_id", "store_name")
EXPORT_CONFIG = Config.from_dict({"columns": {role: role for role in EXPORT_ROLES}})
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
DEFECTS = ("missing_columns", "no_rows", "no_columns", "bad_timestamps", "null_timestamp")
NO_COLUMNS = "the input holds no columns and no rows."
NO_ROWS = "the input has columns but no rows. Fix: point [input] at a non-empty export"


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


def id_column(draw: st.DrawFn, n_rows: int) -> tuple[pd.Series, list[str | None]]:
    """An id or event column of one kind, and the tokens reading it must give."""
    kind = draw(st.sampled_from(sorted(ID_KINDS)))
    cells = draw(st.lists(ID_KINDS[kind], min_size=n_rows, max_size=n_rows))
    column = pd.Series(cells, dtype=object if kind in ("codes", "nulls") else None)
    return column, expected_tokens(cells)


def time_column(draw: st.DrawFn, n_rows: int) -> tuple[pd.Series, list[pd.Timestamp]]:
    """A timestamp column of one readable kind, and the instants it stands for."""
    kind = draw(st.sampled_from(sorted(TIME_KINDS)))
    rendered = [
        render_time(kind, value)
        for value in draw(st.lists(TIME_KINDS[kind], min_size=n_rows, max_size=n_rows))
    ]
    return pd.Series([cell for cell, _ in rendered], dtype=object), [at for _, at in rendered]


@st.composite
def readable_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, list]]:
    """A table every reader must accept: each mapped column, 1-6 rows, readable timestamps."""
    n_rows = draw(st.integers(1, 6))
    columns, expected = {}, {}
    for name in REQUIRED:
        maker = time_column if name == "timestamp" else id_column
        columns[name], expected[name] = maker(draw, n_rows)
    return pd.DataFrame(columns, index=pd.RangeIndex(n_rows)), expected


@dataclass(frozen=True)
class Refusal:
    """The one error a table deserves: its type, the message parts every source gives, and the
    place of the first offending row (``at`` is its 0-based row; None: no row is named)."""

    error: type[EventliftError]
    parts: tuple[str, ...]
    at: int | None = None
    null: bool = False  # that row's timestamp is null


@st.composite
def refused_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, Refusal]:
    """A table with exactly one kind of defect, and the refusal it must meet."""
    defect = draw(st.sampled_from(DEFECTS))
    if defect == "no_columns":
        table = pd.DataFrame(index=pd.RangeIndex(draw(st.integers(0, 6))))
        return table, Refusal(EmptyInputError, (NO_COLUMNS,))
    if defect == "missing_columns":
        return draw(missing_column_tables())
    n_rows = 0 if defect == "no_rows" else draw(st.integers(1, 6))
    columns = {
        name: (time_column if name == "timestamp" else id_column)(draw, n_rows)[0]
        for name in REQUIRED
    }
    if defect == "no_rows":
        return pd.DataFrame(columns, index=pd.RangeIndex(0)), Refusal(EmptyInputError, (NO_ROWS,))
    if defect == "null_timestamp":  # one null in an otherwise readable column
        at, bad, nulls = draw(st.integers(0, n_rows - 1)), 1, 1
        columns["timestamp"].iloc[at] = None
    else:
        kind = draw(st.sampled_from(sorted(INVALID_TIMES)))
        cells = draw(st.lists(INVALID_TIMES[kind], min_size=n_rows, max_size=n_rows))
        columns["timestamp"] = pd.Series(cells, dtype=object)
        at, bad, nulls = 0, n_rows, cells.count(None)
    null_note = f", {nulls} of them null" if nulls else ""
    parts = (
        f"{bad} of {n_rows} rows in timestamp column 'timestamp' cannot be read as "
        f"timestamps{null_note}. First offending rows",
        "Rows with a null timestamp must be filled or removed.",
    )
    first_is_null = columns["timestamp"].iloc[at] is None
    table = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    return table, Refusal(TimestampError, parts, at, null=first_is_null)


@st.composite
def missing_column_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, Refusal]:
    """1 to 4 mapped columns left out (none left is the no-columns defect) of 0-6 rows, now and
    then with unreadable timestamps too: columns are checked before any value."""
    n_rows = draw(st.integers(0, 6))
    missing = draw(st.sets(st.sampled_from(REQUIRED), min_size=1, max_size=len(REQUIRED) - 1))
    columns = {
        name: (time_column if name == "timestamp" else id_column)(draw, n_rows)[0]
        for name in REQUIRED
        if name not in missing
    }
    if "timestamp" in columns and draw(st.booleans()):
        garbage = st.lists(INVALID_TIMES["garbage"], min_size=n_rows, max_size=n_rows)
        columns["timestamp"] = pd.Series(draw(garbage), dtype=object)
    absent = (f"role {r!r} is mapped to column {r!r}, which is absent" for r in sorted(missing))
    parts = (
        f"{len(missing)} configured column(s) not found",
        *absent,
        f"Columns found: {', '.join(map(repr, columns))}.",
    )
    table = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
    return table, Refusal(MissingColumnError, parts)


def sources(table: pd.DataFrame, folder: Path) -> list[tuple[object, str]]:
    """The table as a DataFrame, an Arrow table and a CSV file (when it has columns: pandas
    writes no header for none), each with the label its errors must start with."""
    found = [
        (table, "<DataFrame>"),
        (pa.Table.from_pandas(table, preserve_index=False), "<Arrow table>"),
    ]
    if not table.columns.empty:
        path = folder / "events.csv"
        table.to_csv(path, index=False)
        found.append((path, str(path)))
    return found


def check_read(source: object, expected: dict[str, list]) -> None:
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


def check_refused(source: object, label: str, refusal: Refusal) -> None:
    with pytest.raises(EventliftError) as caught:
        read_events(source, CONFIG)
    message = str(caught.value)
    assert type(caught.value) is refusal.error, message
    assert message.startswith(f"{label}: "), message
    for part in refusal.parts:
        assert part in message, part
    if refusal.at is not None:
        place = (
            f"at='line {refusal.at + 2}'"
            if isinstance(source, Path)
            else f"row_number={refusal.at}"
        )
        shown = ", timestamp=None" if refusal.null else ", timestamp="
        assert f"    {place}{shown}" in message, message


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=readable_tables())
def test_valid_tables_read_exactly_from_every_source(case) -> None:
    table, expected = case
    with tempfile.TemporaryDirectory() as folder:
        for source, _ in sources(table, Path(folder)):
            check_read(source, expected)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=refused_tables())
def test_defective_tables_raise_the_one_error_they_deserve(case) -> None:
    table, refusal = case
    with tempfile.TemporaryDirectory() as folder:
        for source, label in sources(table, Path(folder)):
            check_refused(source, label, refusal)


@st.composite
def export_options(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """The file name (its suffixes say format and compression, as the reader reads them) and the
    :func:`write_export` options of one well-formed export."""
    fmt = draw(st.sampled_from(["csv", "jsonl", "parquet"]))
    compression = None if fmt == "parquet" else draw(st.sampled_from([None, "gz", "zst"]))
    options: dict[str, object] = {
        "timestamps": draw(st.sampled_from(TIMESTAMP_STYLES)),
        "parts": draw(st.integers(1, 3)),
        "float_ids": draw(st.booleans()),
        "numeric_events": draw(st.booleans()),
        "compression": compression,
        "fmt": fmt,
    }
    if fmt == "csv":
        options["delimiter"] = draw(st.sampled_from([",", ";", "\t", "|"]))
        options["bom"], options["crlf"] = draw(st.booleans()), draw(st.booleans())
    return f"events.{fmt}" + (f".{compression}" if compression else ""), options


def exported_values(events: pd.DataFrame, options: dict[str, object]) -> dict[str, list]:
    """What reading an export of ``events`` written with ``options`` must give, per role."""
    expected = {role: events[role].astype(object).where(events[role].notna(), None).tolist()
                for role in EXPORT_ROLES}  # fmt: skip
    timestamps = events["timestamp"]
    expected["timestamp"] = (
        timestamps.dt.floor("s") if options["timestamps"] == "epoch_s" else timestamps
    ).tolist()
    if options["float_ids"]:
        for role in ("session_id", "user_id", "store_id"):
            numbers = id_numbers(events[role])
            expected[role] = [None if pd.isna(n) else str(int(n)) for n in numbers]
    if options["numeric_events"]:
        codes = event_codes(events)
        expected["event"] = [str(codes[name]) for name in events["event"]]
    return expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=export_options())
def test_a_well_formed_generated_export_is_never_rejected(export_events, case) -> None:
    """Any combination of timestamp style, format, compression, parts, separator, byte order
    mark, line ends, float ids and numeric codes reads back to every event, exactly."""
    name, options = case
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / (name if options["parts"] == 1 else "export")
        write_export(export_events, target, **options)
        frame = read_events(target, EXPORT_CONFIG)
    expected = exported_values(export_events.reset_index(drop=True), options)
    assert frame[ROW_NUMBER].tolist() == list(range(len(export_events)))
    assert frame["timestamp"].tolist() == expected["timestamp"]
    for role in EXPORT_ROLES:
        got = frame[role].astype(object).where(frame[role].notna(), None).tolist()
        assert got == expected[role], role
