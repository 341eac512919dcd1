"""Reading events into the canonical frame: every source kind, timestamp forms, and the errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlift.config import Config
from eventlift.data.exports import event_codes, id_numbers, write_export
from eventlift.data.readers import ReadReport, read_events, read_report, read_stores
from eventlift.data.schema import CANONICAL_COLUMNS
from eventlift.data.timestamps import parse_timestamps, resolve_epoch_unit
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    MalformedLinesError,
    MissingColumnError,
    TimestampError,
)
from support.paths import SHARED_DATA


def config(columns: dict | None = None, **input_keys: object) -> Config:
    return Config.from_dict({"columns": columns or {}, "input": input_keys})


def small_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sid": ["s1", "s1", "s2"],
            "ts": ["2024-01-01T10:00:00Z", "2024-01-01T12:00:00+02:00", "2024-01-02 00:00:00"],
            "name": ["view", None, "buy"],
            "shop": [7.0, np.nan, 12.0],
        }
    )


MAPPED = {"session_id": "sid", "timestamp": "ts", "event": "name", "store_id": "shop"}


def test_dataframe_becomes_canonical_frame_in_input_order():
    frame = read_events(small_events(), config(MAPPED))
    assert list(frame.columns) == list(CANONICAL_COLUMNS)
    assert frame["session_id"].tolist() == ["s1", "s1", "s2"]
    # Null event names stay (the sessions stage counts them); nothing is dropped or sorted.
    assert frame["event"].isna().tolist() == [False, True, False]
    assert frame["store_id"].tolist()[::2] == ["7", "12"]  # float ids print as integers
    assert frame["store_id"].isna().tolist() == [False, True, False]
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 10:00"),
        pd.Timestamp("2024-01-01 10:00"),
        pd.Timestamp("2024-01-02 00:00"),
    ]
    assert frame["timestamp"].dt.tz is None
    assert frame["row_number"].dtype == np.int64
    assert frame["row_number"].tolist() == [0, 1, 2]
    for role in ("user_id", "event_category", "event_detail", "store_name"):
        assert frame[role].isna().all(), role
    assert str(frame["session_id"].dtype) == "string"


def test_unmapped_roles_given_as_empty_string_are_null():
    frame = read_events(small_events(), config({**MAPPED, "store_id": ""}))
    assert frame["store_id"].isna().all()


def test_integer_and_mixed_ids_become_plain_strings():
    events = pd.DataFrame(
        {
            "session_id": pd.array([123, None, 5], dtype="Int64"),
            "user_id": pd.Series([1.0, 2.5, np.nan]),
            "timestamp": [1_700_000_000, 1_700_000_001, 1_700_000_002],
            "event": pd.Series([1, "b", 3.0], dtype=object),
        }
    )
    frame = read_events(events, config({"user_id": "user_id"}))
    assert frame["session_id"].tolist()[::2] == ["123", "5"]
    assert frame["user_id"].tolist()[:2] == ["1", "2.5"]
    assert frame["event"].tolist() == ["1", "b", "3"]


def test_sessions_may_be_derived_from_user_id_without_a_session_column():
    events = small_events().rename(columns={"sid": "uid"})
    frame = read_events(events, config({**MAPPED, "session_id": "", "user_id": "uid"}))
    assert frame["session_id"].isna().all()
    assert frame["user_id"].tolist() == ["s1", "s1", "s2"]


def test_csv_keeps_leading_zeros_and_reads_epoch_seconds(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("sid,ts,name,shop\n007,1700000000,view,0012\n008,1700000060,buy,\n")
    frame = read_events(path, config(MAPPED))
    assert frame["session_id"].tolist() == ["007", "008"]
    assert frame["store_id"].tolist()[0] == "0012"
    assert frame["store_id"].isna().tolist() == [False, True]
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2023-11-14 22:13:20"),
        pd.Timestamp("2023-11-14 22:14:20"),
    ]


def test_csv_integer_ids_exported_as_floats_lose_the_trailing_zero(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("sid,ts,name,shop\n12.0,1,a,1.50\n,2,b,2.0\n3.00,3,c,\n")
    frame = read_events(path, config(MAPPED))
    assert frame["session_id"].tolist()[::2] == ["12", "3"]
    assert frame["store_id"].tolist()[:2] == ["1.50", "2.0"]  # not all integral: verbatim


def test_parquet_file_with_zoned_datetimes_is_converted_to_naive_utc(tmp_path):
    events = pd.DataFrame(
        {
            "session_id": [1, 2],
            "timestamp": pd.to_datetime(["2024-06-01 12:00", "2024-06-01 13:30"]).tz_localize(
                "Europe/Berlin"
            ),
            "event": ["a", "b"],
        }
    )
    events.to_parquet(tmp_path / "events.parquet")
    frame = read_events(str(tmp_path / "events.parquet"), config())
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2024-06-01 10:00"),
        pd.Timestamp("2024-06-01 11:30"),
    ]
    assert frame["session_id"].tolist() == ["1", "2"]


def test_parquet_folder_of_parts_is_read_whole(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for part in range(2):
        pq.write_table(
            pa.table({"session_id": [f"s{part}"], "timestamp": [1_700_000_000], "event": ["x"]}),
            folder / f"part-{part}.parquet",
        )
    (folder / "_SUCCESS").write_text("")
    frame = read_events(folder, config())
    assert sorted(frame["session_id"]) == ["s0", "s1"]


def test_arrow_table_source():
    table = pa.table(
        {
            "session_id": pa.array([10, 11], pa.int64()),
            "timestamp": pa.array([1_700_000_000_000, 1_700_000_000_500], pa.int64()),
            "event": pa.array(["a", None]),
        }
    )
    frame = read_events(table, config())
    assert frame["session_id"].tolist() == ["10", "11"]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2023-11-14 22:13:20.500")  # auto -> ms


def test_flat_json_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    rows = [{"session_id": "a", "timestamp": "2024-01-01T00:00:00Z", "event": "x"}] * 3
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert len(read_events(path, config())) == 3


def test_nested_json_lines_repeat_outer_fields_and_event_keys_win(tmp_path):
    path = tmp_path / "sessions.jsonl"
    lines = [
        {"user": 1, "tag": "outer", "events": [{"t": 1000, "e": "a"}, {"t": 2000, "e": "b"}]},
        {"user": 2, "tag": "outer", "events": []},
        {"user": 3, "tag": "outer", "events": [{"t": 3000, "e": "c", "tag": "inner"}]},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    cols = {"session_id": "", "user_id": "user", "timestamp": "t", "event": "e",
            "event_category": "tag"}  # fmt: skip
    frame = read_events(path, config(cols, nested_events="events", timestamp_unit="s"))
    assert frame["user_id"].tolist() == ["1", "1", "3"]
    assert frame["event"].tolist() == ["a", "b", "c"]
    assert frame["event_category"].tolist() == ["outer", "outer", "inner"]
    assert frame["timestamp"].iloc[2] == pd.Timestamp("1970-01-01 00:50:00")


def test_nested_arrow_table_with_list_of_structs():
    table = pa.table(
        {
            "user": [7, 8],
            "events": [[{"t": 1, "e": "a"}, {"t": 2, "e": "b"}], [{"t": 3, "e": "c"}]],
        }
    )
    cols = {"session_id": "", "user_id": "user", "timestamp": "t", "event": "e"}
    frame = read_events(table, config(cols, nested_events="events"))
    assert frame["user_id"].tolist() == ["7", "7", "8"]
    assert frame["event"].tolist() == ["a", "b", "c"]


def test_nested_otto_sample_reads_862_events():
    path = SHARED_DATA / "otto-sample.jsonl"
    if not path.is_file():
        pytest.skip(f"shared sample data not found at {path}")
    cols = {"session_id": "", "user_id": "session", "timestamp": "ts", "event": "type",
            "store_id": "aid"}  # fmt: skip
    frame = read_events(path, config(cols, nested_events="events", timestamp_unit="ms"))
    assert len(frame) == 862
    assert frame["user_id"].nunique() == 20
    assert (frame["timestamp"].dt.year == 2022).all()
    assert frame["store_id"].str.fullmatch(r"\d+").all()
    assert frame["store_id"].iloc[0] == "1517085"
    assert set(frame["event"]) == {"clicks", "carts", "orders"}
    assert frame["row_number"].tolist() == list(range(862))


def test_nested_field_missing_everywhere_is_reported(tmp_path):
    path = tmp_path / "sessions.jsonl"
    path.write_text('{"session": 1, "items": []}\n')
    with pytest.raises(MissingColumnError, match=r"nested_events = 'events'.*'session', 'items'"):
        read_events(path, config({"user_id": "session"}, nested_events="events"))


def test_nested_field_that_is_not_a_list_of_objects(tmp_path):
    path = tmp_path / "sessions.jsonl"
    path.write_text('{"s": 1, "events": [{"t": 1}]}\n{"s": 2, "events": "oops"}\n')
    with pytest.raises(
        DataError,
        match=r"(?s)1 record\(s\) whose 'events' field .*line=2.*must be a list of objects",
    ):
        read_events(path, config({"user_id": "s"}, nested_events="events"))


def make_duckdb(path: Path) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE TABLE log AS SELECT * FROM (VALUES "
            "('a', TIMESTAMPTZ '2024-01-01 12:00:00+01', 'view'), "
            "('b', TIMESTAMPTZ '2024-01-01 13:00:00+00', 'buy')) t(sid, ts, name)"
        )


def test_query_against_duckdb_file_from_config(tmp_path):
    make_duckdb(tmp_path / "log.duckdb")
    settings = config(
        {"session_id": "sid", "timestamp": "ts", "event": "name"},
        query="SELECT * FROM log WHERE name = 'view'",
        database="duckdb:///" + str(tmp_path / "log.duckdb"),
    )
    frame = read_events(None, settings)
    assert frame["session_id"].tolist() == ["a"]
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-01-01 11:00")]


def test_failing_duckdb_query_names_database_and_error(tmp_path):
    make_duckdb(tmp_path / "log.duckdb")
    settings = config(query="SELECT * FROM nope", database=str(tmp_path / "log.duckdb"))
    with pytest.raises(
        DataError, match=r"(?s)query on .*log\.duckdb failed:\n.*nope.*Fix: correct"
    ):
        read_events(None, settings)


def test_missing_duckdb_database(tmp_path):
    settings = config(query="SELECT 1", database=str(tmp_path / "absent.duckdb"))
    with pytest.raises(DataError, match=r"absent\.duckdb: the database file does not exist"):
        read_events(None, settings)


def test_unreachable_database_url_names_the_masked_url():
    pytest.importorskip("psycopg")
    settings = config(query="SELECT 1", database="postgresql://ana:s3cret@127.0.0.1:1/db")
    with pytest.raises(
        DataError, match=r"query on postgresql://ana:\*\*\*@127\.0\.0\.1:1/db"
    ) as err:
        read_events(None, settings)
    assert "s3cret" not in str(err.value) and "connecting failed" in str(err.value)


def test_path_from_config_is_read_when_source_is_none(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("session_id,timestamp,event\ns,2024-01-01,x\n")
    assert read_events(None, config(path=str(path)))["event"].tolist() == ["x"]


def test_format_key_overrides_the_suffix(tmp_path):
    path = tmp_path / "events.txt"
    path.write_text("session_id,timestamp,event\ns,2024-01-01,x\n")
    with pytest.raises(DataError, match=r"cannot tell the format.*'\.txt'.*format = \"csv\""):
        read_events(path, config())
    assert len(read_events(path, config(format="csv"))) == 1


# --- timestamps -----------------------------------------------------------------------------


TIMESTAMP_FORMS = {
    "seconds": ([1_700_000_000, 1_700_000_060], "auto"),
    "milliseconds": ([1_700_000_000_000, 1_700_000_060_000], "auto"),
    "float-seconds-with-fraction": ([1_700_000_000.0, 1_700_000_060.0], "s"),
    "digit-strings-and-iso": (["1700000000000", "2023-11-14T23:14:20+01:00"], "auto"),
    "zoned-datetime-and-iso-date": (
        [pd.Timestamp("2023-11-14 23:13:20", tz="Europe/Berlin"), "2023-11-14T22:14:20"],
        "auto",
    ),
    "numbers-digits-and-datetimes": (
        [1_700_000_000, "1700000060", dt.datetime(2023, 11, 14, 22, 14, 20)],
        "s",
    ),
}


@pytest.mark.parametrize(("values", "unit"), TIMESTAMP_FORMS.values(), ids=TIMESTAMP_FORMS.keys())
def test_timestamp_forms(values, unit):
    parsed = parse_timestamps(pd.Series(values), column="t", unit=unit)
    assert parsed.dtype == "datetime64[us]"
    assert parsed.iloc[0] == pd.Timestamp("2023-11-14 22:13:20")
    assert parsed.iloc[1] == pd.Timestamp("2023-11-14 22:14:20")


def test_fractional_epoch_seconds_keep_their_microseconds():
    parsed = parse_timestamps(pd.Series([1_700_000_000.25]), column="t", unit="s")
    assert parsed.iloc[0] == pd.Timestamp("2023-11-14 22:13:20.250")


def test_null_epoch_is_an_offending_row():
    with pytest.raises(
        TimestampError, match=r"(?s)1 of 2 rows.*1 of them null.*row_number=1, t=None"
    ):
        parse_timestamps(pd.Series([1_700_000_000.5, np.nan]), column="t", unit="s")


def test_auto_unit_rule_is_the_median_magnitude():
    assert resolve_epoch_unit(np.array([1e11, 1e11, 2e11]), "auto") == "s"
    assert resolve_epoch_unit(np.array([1e11, 2e11, 2e11, np.nan]), "auto") == "ms"
    assert resolve_epoch_unit(np.array([5e12]), "s") == "s"


def test_unparseable_timestamps_show_rows_count_and_fix():
    events = pd.DataFrame(
        {
            "session_id": ["a"] * 8,
            "when": ["2024-01-01", "yesterday", None, "2024-13-45", "x", "y", "z", "2024-01-02"],
            "event": ["e"] * 8,
        }
    )
    with pytest.raises(TimestampError) as info:
        read_events(events, config({"timestamp": "when"}))
    message = str(info.value)
    assert "<DataFrame>: 6 of 8 rows in timestamp column 'when'" in message
    assert "1 of them null" in message
    assert "row_number=1, when='yesterday'" in message
    assert "row_number=2, when=None" in message
    assert "row_number=5" in message and "row_number=6" not in message  # five rows at most
    assert "ISO-8601" in message and "timestamp_unit" in message


def test_wrong_epoch_unit_is_an_error_not_a_date_in_the_far_future():
    events = pd.DataFrame({"session_id": ["a"], "timestamp": [1_700_000_000_000], "event": ["e"]})
    with pytest.raises(TimestampError, match=r"read as seconds \(configured\).*wrong unit"):
        read_events(events, config(timestamp_unit="s"))


def test_boolean_timestamps_are_rejected():
    with pytest.raises(TimestampError, match=r"2 of 2 rows"):
        parse_timestamps(pd.Series([True, False]), column="t")


# --- errors ---------------------------------------------------------------------------------


def test_missing_required_column_names_source_role_columns_and_fix():
    events = small_events().rename(columns={"ts": "time_stamp"})
    with pytest.raises(MissingColumnError) as info:
        read_events(events, config(MAPPED))
    message = str(info.value)
    assert message.startswith("<DataFrame>: 1 configured column(s) not found.")
    assert "role 'timestamp' is mapped to column 'ts', which is absent" in message
    assert "Columns found: 'sid', 'time_stamp', 'name', 'shop'." in message
    assert '[columns] timestamp = "time_stamp" in the config' in message


def test_missing_session_column_suggests_deriving_sessions(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,timestamp,event\nu,2024-01-01,x\n")
    with pytest.raises(MissingColumnError) as info:
        read_events(path, config({"session_id": "session_id", "user_id": "user"}))
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "role 'session_id' is mapped to column 'session_id'" in message
    assert 'set session_id = "" to derive sessions from user_id' in message


def test_mapped_optional_role_that_is_absent_is_an_error():
    with pytest.raises(MissingColumnError, match=r"role 'store_name'.*'title'.*store_name = \"\""):
        read_events(small_events(), config({**MAPPED, "store_name": "title"}))


def test_neither_session_nor_user_mapped():
    with pytest.raises(ConfigError, match=r"neither session_id nor user_id.*map session_id"):
        read_events(small_events(), config({**MAPPED, "session_id": ""}))


def test_unmapped_required_role():
    with pytest.raises(ConfigError, match=r"\[columns\] event is required"):
        read_events(small_events(), config({**MAPPED, "event": ""}))


def test_no_source_anywhere():
    with pytest.raises(ConfigError, match=r"no events to read.*\[input\] path"):
        read_events(None, config())


def test_unsupported_source_type():
    with pytest.raises(DataError, match=r"cannot read events from a list"):
        read_events([1, 2], config())


def test_duplicate_column_names():
    events = pd.DataFrame([["a", "2024-01-01", "x", "y"]], columns=["session_id", "timestamp",
                                                                    "event", "event"])  # fmt: skip
    with pytest.raises(DataError, match=r"column 'event' \(role 'event'\) appears 2 times"):
        read_events(events, config())


@pytest.mark.parametrize(
    "events",
    [pd.DataFrame(), pd.DataFrame(columns=["session_id", "timestamp", "event"])],
    ids=["no-columns", "header-only"],
)
def test_empty_frames(events):
    with pytest.raises(EmptyInputError, match=r"<DataFrame>: the input"):
        read_events(events, config())


@pytest.mark.parametrize(
    ("name", "content", "error", "pattern"),
    [
        ("e.csv", "", DataError, r"e\.csv: the file is empty \(0 bytes\)"),
        ("e.csv", "session_id,timestamp,event\n", EmptyInputError, r"e\.csv: .*no rows"),
        ("e.csv", "session_id,timestamp,event\na,b,c\na,b,c,d\n", DataError, r"e\.csv: 1 "
         r"malformed line\(s\), e\.g\.\n    line 3 has 4 field\(s\), expected 3: 'a,b,c,d'"),
        ("e.parquet", "not parquet at all", DataError, r"e\.parquet: cannot read as Parquet"),
        ("e.jsonl", '{"a": 1}\n{"a": 2,\n', DataError, r"e\.jsonl: 1 malformed line.*\n    "
         r"line 2 is not valid JSON \(Expecting property name.* at column 9\)"),
        ("e.jsonl", '{"a": 1}\n[1, 2]\n', DataError, r"line 2 holds a JSON list, not an object"),
        ("e.jsonl", "\n\n", EmptyInputError, r"no columns and no rows"),
    ],
    ids=["zero-bytes", "header-only", "ragged-csv", "corrupt-parquet", "bad-json", "json-list",
         "blank-json"],
)  # fmt: skip
def test_unreadable_files(tmp_path, name, content, error, pattern):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(error, match=pattern):
        read_events(path, config())


def test_file_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match=r"absent\.csv: file does not exist.*\[input\] path"):
        read_events(tmp_path / "absent.csv", config())


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b"session_id,timestamp,event\n\xff\xfe,2024-01-01,x\n")
    with pytest.raises(
        DataError, match=r"(?s)e\.csv: 1 malformed line.*line 2 is not UTF-8 text.*on_bad_lines"
    ):
        read_events(path, config())


# --- stores ---------------------------------------------------------------------------------


def test_read_stores_csv_puts_text_store_id_first(tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text("name,store_id,vertical\nCafe,007,food\nShop,12,retail\n")
    stores = read_stores(path)
    assert list(stores.columns) == ["store_id", "name", "vertical"]
    assert stores["store_id"].tolist() == ["007", "12"]


def test_read_stores_parquet_with_integer_ids(tmp_path):
    path = tmp_path / "stores.parquet"
    pd.DataFrame({"store_id": [3.0, np.nan], "name": ["A", "B"]}).to_parquet(path)
    stores = read_stores(path)
    assert stores["store_id"].tolist()[0] == "3"
    assert stores["store_id"].isna().tolist() == [False, True]


def test_read_stores_without_store_id(tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text("id,name\n1,A\n")
    with pytest.raises(MissingColumnError, match=r"no 'store_id' column.*'id', 'name'.*rename"):
        read_stores(path)


def test_read_stores_with_repeated_ids(tmp_path):
    path = tmp_path / "stores.csv"
    path.write_text("store_id,name\n1,A\n1,B\n2,C\n")
    with pytest.raises(
        DataError, match=r"(?s)1 store ids appear on more than one row.*store_id='1'"
    ):
        read_stores(path)


def test_read_stores_missing_file_names_the_stores_key(tmp_path):
    with pytest.raises(DataError, match=r"\[input\] stores"):
        read_stores(tmp_path / "nope.csv")


@pytest.mark.parametrize("kind", ["frame", "arrow", "csv", "parquet", "jsonl"])
def test_compact_reading_gives_the_same_values_as_categoricals(kind, tmp_path):
    events = small_events().assign(
        user=["u1", "u1", None], shop=[7.0, np.nan, 12.0], mixed=[3, 3, 4]
    )
    columns = {**MAPPED, "user_id": "user", "event_category": "mixed"}
    source: object = events
    if kind == "arrow":
        source = pa.Table.from_pandas(events)
    elif kind == "csv":
        source = tmp_path / "events.csv"
        events.to_csv(source, index=False)
    elif kind == "parquet":
        source = tmp_path / "events.parquet"
        pq.write_table(pa.Table.from_pandas(events), source)  # text columns dictionary-encoded
    elif kind == "jsonl":
        source = tmp_path / "events.jsonl"
        events.to_json(source, orient="records", lines=True)
    plain = read_events(source, config(columns))
    compact = read_events(source, config(columns), compact=True)
    assert list(compact.columns) == list(plain.columns)
    for role in ("session_id", "user_id", "event", "event_category", "store_id", "store_name"):
        values = compact[role]
        assert isinstance(values.dtype, pd.CategoricalDtype), role
        assert list(values.cat.categories) == sorted(values.cat.categories), role
        assert values.astype("string").tolist() == plain[role].tolist(), role
    pd.testing.assert_series_equal(compact["timestamp"], plain["timestamp"])


# --- exports as real tools write them (files made by eventlift.data.exports) ----------------

EXPORT_COLUMNS = {"user_id": "user_id", "store_id": "store_id", "store_name": "store_name",
                  "event_category": "event_category"}  # fmt: skip
COMPARED = ["session_id", "user_id", "timestamp", "event", "event_category", "store_id"]


def read_export(path: object, **input_keys: object) -> pd.DataFrame:
    return read_events(path, config({**EXPORT_COLUMNS, "session_id": "session_id"}, **input_keys))


def assert_same_events(frame: pd.DataFrame, events: pd.DataFrame) -> None:
    """Every compared role holds exactly the generated values, in order."""
    expected = events.reset_index(drop=True)
    assert len(frame) == len(expected)
    for role in COMPARED:
        got = frame[role].astype(object).where(frame[role].notna(), None).tolist()
        want = expected[role].astype(object).where(expected[role].notna(), None).tolist()
        assert got == want, role


def test_zone_names_after_the_time_as_analytics_exports_write_them(tmp_path, export_events):
    (path,) = write_export(export_events, tmp_path / "events.csv", timestamps="zone_name")
    assert path.read_text().splitlines()[1].split(",")[2].endswith(" UTC")
    frame = read_export(path)
    assert_same_events(frame, export_events)
    assert read_report(frame) == ReadReport(files=1)


@pytest.mark.parametrize("style", ["iso", "iso_z", "offset", "iana", "mixed_zones"])
def test_zoned_text_styles_read_to_the_exact_utc_instants(tmp_path, export_events, style):
    (path,) = write_export(export_events, tmp_path / "events.csv", timestamps=style)
    assert_same_events(read_export(path), export_events)


def test_naive_local_times_with_the_configured_timezone(tmp_path, export_events):
    (path,) = write_export(
        export_events, tmp_path / "events.csv", timestamps="naive", zone="America/New_York"
    )
    assert_same_events(read_export(path, timezone="America/New_York"), export_events)
    shifted = read_export(path)["timestamp"] - export_events["timestamp"]
    assert set(shifted) == {pd.Timedelta(hours=-4)}  # read as UTC without the key (October)


@pytest.mark.parametrize(
    ("style", "name"),
    [("epoch_s", "seconds"), ("epoch_ms", "milliseconds"), ("epoch_us", "microseconds"),
     ("epoch_ns", "nanoseconds")],
)  # fmt: skip
def test_epoch_units_in_files_are_detected_and_noted(tmp_path, export_events, style, name):
    events = export_events
    if style == "epoch_s":  # whole seconds, as Unix time is sent
        events = export_events.assign(timestamp=export_events["timestamp"].dt.floor("s"))
    (path,) = write_export(events, tmp_path / "events.csv", timestamps=style)
    frame = read_export(path)
    assert_same_events(frame, events)
    assert read_report(frame).notes == [
        f"timestamp column 'timestamp': epoch numbers read as {name} (detected by magnitude; "
        f"set [input] timestamp_unit to override)."
    ]


def test_a_cut_last_line_is_named_by_default_and_skipped_on_request(tmp_path, export_events):
    (path,) = write_export(export_events, tmp_path / "events.csv", cut_last_line=True)
    last = len(export_events) + 1  # the header is line 1
    with pytest.raises(
        DataError,
        match=rf"(?s)events\.csv: 1 malformed line\(s\), e\.g\.\n    line {last} has \d "
        r"field\(s\), expected 7: .*download stopped early.*on_bad_lines = \"skip\"",
    ):
        read_export(path)
    frame = read_export(path, on_bad_lines="skip")
    assert_same_events(frame, export_events.iloc[:-1])
    report = read_report(frame)
    assert (report.files, report.malformed_lines) == (1, 1)
    assert report.malformed_line_numbers == [f"line {last}"]
    assert report.notes == [
        f'{path}: skipped 1 malformed line(s) (line {last}), as [input] on_bad_lines = "skip" asks.'
    ]


def test_semicolons_bom_and_crlf_as_spreadsheets_write_them(tmp_path, export_events):
    (path,) = write_export(
        export_events, tmp_path / "events.csv", delimiter=";", bom=True, crlf=True
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbfsession_id;user_id")
    frame = read_export(path)
    assert_same_events(frame, export_events)
    assert read_report(frame).notes == [
        f"{path}: fields separated by ';' (detected from the header; set [input] delimiter to "
        f"override)."
    ]
    assert read_report(read_export(path, delimiter=";")).notes == []


def test_tab_separated_dump(tmp_path, export_events):
    (path,) = write_export(export_events, tmp_path / "events.tsv", delimiter="\t")
    frame = read_export(path)
    assert_same_events(frame, export_events)
    assert "fields separated by tabs" in read_report(frame).notes[0]


def test_delimiter_key_is_one_character():
    with pytest.raises(ConfigError, match=r"\[input\] delimiter must be one character.*'ab'"):
        config(delimiter="ab")


@pytest.mark.parametrize("name", ["events.csv.gz", "events.csv.zst", "events.jsonl.gz",
                                  "events.jsonl.zst"])  # fmt: skip
def test_compressed_csv_and_json_lines(tmp_path, export_events, name):
    (path,) = write_export(export_events, tmp_path / name)
    assert path.read_bytes()[:3] in (b"\x1f\x8b\x08", b"\x28\xb5\x2f")  # gzip, zstd
    assert_same_events(read_export(path), export_events)


@pytest.mark.parametrize("name", ["events.csv.gz", "events.jsonl.zst"])
def test_a_compressed_file_cut_short_is_a_clear_error_in_both_modes(tmp_path, export_events, name):
    (path,) = write_export(export_events, tmp_path / name)
    path.write_bytes(path.read_bytes()[:-40])  # a download interrupted inside the archive
    for mode in ("error", "skip"):
        with pytest.raises(DataError, match=r"the compressed file ends early.*download or export"):
            read_export(path, on_bad_lines=mode)


def test_a_folder_and_a_glob_of_compressed_csv_parts_read_as_one_log(tmp_path, export_events):
    paths = write_export(export_events, tmp_path / "export", parts=3, compression="gz")
    (tmp_path / "export" / "_SUCCESS").write_text("")
    assert [p.name for p in paths] == [f"part-0000{i}.csv.gz" for i in range(3)]
    for source in (tmp_path / "export", str(tmp_path / "export" / "part-*.csv.gz")):
        frame = read_export(source)
        assert_same_events(frame, export_events)
        assert read_report(frame).files == 3
        assert read_report(frame).notes == [
            f"{source}: read 3 files as one log, in path order (part-00000.csv.gz to "
            f"part-00002.csv.gz)."
        ]


def test_a_glob_of_parquet_parts(tmp_path, export_events):
    write_export(export_events, tmp_path / "events", parts=2, fmt="parquet")
    assert_same_events(read_export(str(tmp_path / "events" / "*.parquet")), export_events)


def test_a_glob_that_matches_nothing(tmp_path):
    with pytest.raises(DataError, match=r"part-\*\.csv: no file matches this pattern.*path"):
        read_export(str(tmp_path / "part-*.csv"))


def test_malformed_lines_of_parts_are_named_by_file_and_line(tmp_path, export_events):
    paths = write_export(export_events, tmp_path / "export", parts=2, ragged_lines=[3])
    with pytest.raises(
        MalformedLinesError, match=r"part-00001\.csv: 1 malformed line.*\n    line 3 has 8"
    ):
        read_export(tmp_path / "export")
    report = read_report(read_export(tmp_path / "export", on_bad_lines="skip"))
    assert (report.malformed_lines, report.malformed_line_numbers) == (1, [f"{paths[1]}:3"])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_float_ids_and_numeric_event_codes_become_the_same_tokens(tmp_path, export_events, fmt):
    (path,) = write_export(
        export_events, tmp_path / f"events.{fmt}", float_ids=True, numeric_events=True
    )
    frame = read_export(path)
    for role in ("session_id", "user_id", "store_id"):
        numbers = id_numbers(export_events[role])
        expected = [None if pd.isna(n) else str(int(n)) for n in numbers]
        assert frame[role].astype(object).where(frame[role].notna(), None).tolist() == expected
    codes = event_codes(export_events)
    assert frame["event"].tolist() == [str(codes[name]) for name in export_events["event"]]


def test_integral_text_loses_the_zero_but_other_text_stays_verbatim():
    events = pd.DataFrame(
        {
            "session_id": ["007", "7", "7.0"],
            "timestamp": [1, 2, 3],
            "event": ["4", "4.0", None],
            "store_id": ["1.50", "2.0", "3"],
        }
    )
    frame = read_events(events, config({"store_id": "store_id"}))
    assert frame["session_id"].tolist() == ["007", "7", "7"]
    assert frame["event"].tolist()[:2] == ["4", "4"]
    assert frame["store_id"].tolist() == ["1.50", "2.0", "3"]  # not all integral: verbatim


def test_bad_utf8_lines_in_csv_and_json_lines(tmp_path, export_events):
    for name in ("events.csv", "events.jsonl"):
        (path,) = write_export(export_events, tmp_path / name, bad_utf8_lines=[3, 6])
        with pytest.raises(
            DataError,
            match=r"(?s)2 malformed line\(s\).*line 3 is not UTF-8 text\n    line 6 is not UTF-8",
        ):
            read_export(path)
        frame = read_export(path, on_bad_lines="skip")
        offset = 2 if name.endswith(".csv") else 1  # JSON lines have no header
        assert_same_events(frame, export_events.drop(index=[3 - offset, 6 - offset]))
        report = read_report(frame)
        assert (report.malformed_lines, report.malformed_line_numbers) == (2, ["line 3", "line 6"])


def test_broken_json_line(tmp_path, export_events):
    (path,) = write_export(export_events, tmp_path / "events.jsonl", broken_json_lines=[5])
    with pytest.raises(
        DataError, match=r"(?s)events\.jsonl: 1 malformed line.*line 5 is not valid JSON"
    ):
        read_export(path)
    frame = read_export(path, on_bad_lines="skip")
    assert_same_events(frame, export_events.drop(index=[4]))
    assert read_report(frame).malformed_line_numbers == ["line 5"]


def test_frames_carry_a_report_of_their_notes_and_a_plain_frame_gives_an_empty_one():
    frame = read_events(small_events(), config(MAPPED))
    assert read_report(frame) == ReadReport(
        notes=["timestamp column 'ts': times with UTC offsets converted to UTC."]
    )
    assert read_report(pd.DataFrame()) == ReadReport()


def test_write_export_is_deterministic(tmp_path, export_events):
    options = {"timestamps": "mixed_zones", "float_ids": True, "cut_last_line": True, "parts": 2}
    first = write_export(export_events, tmp_path / "a", compression="gz", **options)
    second = write_export(export_events, tmp_path / "b", compression="gz", **options)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_bad_timestamps_are_named_by_file_and_line(tmp_path):
    """Several parts: the file and its line, past a blank line, CRLF and a skipped line."""
    folder = tmp_path / "export"
    folder.mkdir()
    header = "session_id,timestamp,event\n"
    (folder / "part-0.csv").write_text(header + "a,2024-01-01 10:00:00,view\n")
    second = header + "b,2024-01-01 11:00:00,view\r\n\r\nb,1,2,3\nb,soon,view\nb,later,view\n"
    (folder / "part-1.csv").write_text(second)
    with pytest.raises(DataError, match=r"part-1\.csv: 1 malformed line.*\n    line 4 has 4"):
        read_events(folder, config())  # the blank line before it counts
    with pytest.raises(TimestampError) as info:
        read_events(folder, config(on_bad_lines="skip"))
    message = str(info.value)
    assert f"at='{folder / 'part-1.csv'}, line 5', timestamp='soon'" in message
    assert f"at='{folder / 'part-1.csv'}, line 6', timestamp='later'" in message
    assert "row_number" not in message
    # one JSON lines file: its line; a value spanning lines: the data row, no line claimed
    (tmp_path / "events.jsonl").write_text(
        '{"session_id": "a", "timestamp": 1, "event": "v"}\n\n'
        '{"session_id": "a", "timestamp": "soon", "event": "v"}\n'
    )
    with pytest.raises(TimestampError, match=r"at='line 3', timestamp='soon'"):
        read_events(tmp_path / "events.jsonl", config())
    (tmp_path / "quoted.csv").write_text(header + 'a,1,"two\nlines"\na,soon,view\n')
    with pytest.raises(TimestampError, match=r"at='data row 2', timestamp='soon'"):
        read_events(tmp_path / "quoted.csv", config())
