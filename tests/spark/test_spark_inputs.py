"""The Spark path reads awkward exports to the local path's events and sessions.

One synthetic log (200 sessions) is written as the files real exports are
(:func:`eventlift.data.exports.write_export`): zone names after the time with a cut last line
and a line that is not UTF-8 (read with ``on_bad_lines = "skip"``); mixed zones with ``;``, a
byte order mark, CRLF and gzip; IANA zone names in Zstandard parts read through a glob; float
ids, numeric event codes, epoch milliseconds and nulls written ``NULL`` in a tab-separated file;
epoch microseconds in gzipped JSON lines with a broken line; and naive local times (``[input]
timezone``) without a session id. For each, the events Spark reads
(:func:`eventlift.spark.canonical.to_canonical`) must equal the local reader's, value for value;
for two of them the sessions Spark prepares must equal the local sessions: ids, labels, splits,
event tokens and their order, timestamps, vocabularies and every count, the malformed lines and
their line numbers included. Malformed lines under the default ``on_bad_lines = "error"``, a
glob matching nothing and bad timestamps are errors that name the file, the line and the fix;
the integer rule for text (``"4.0"`` reads ``"4"``) is decided for the whole column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventlift.config import Config
from eventlift.data.exports import event_codes, write_export
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events, read_report
from eventlift.data.schema import ROLES
from eventlift.data.synthetic import generate_events
from eventlift.exceptions import DataError, TimestampError

_TEXT = [role for role in ROLES if role != "timestamp"]
_COLUMNS = {
    "session_id": "session_id",
    "user_id": "user_id",
    "event_category": "event_category",
    "store_id": "store_id",
    "store_name": "store_name",
}
# name: (file, write_export options, [input] keys, read through this glob instead)
_CASES = {
    "zone_names_cut": (
        "zone.csv",
        {"timestamps": "zone_name", "cut_last_line": True, "bad_utf8_lines": [4]},
        {"on_bad_lines": "skip"},
        None,
    ),
    "semicolon_bom_crlf_gz_mixed_zones": (
        "semi.csv.gz",
        {"delimiter": ";", "bom": True, "crlf": True, "timestamps": "mixed_zones"},
        {},
        None,
    ),
    "zstd_parts_glob": (
        "parts",
        {"parts": 3, "compression": "zst", "timestamps": "iana"},
        {},
        "parts/part-*.csv.zst",
    ),
    "float_ids_event_codes_tabs": (
        "codes.tsv",
        {"float_ids": True, "numeric_events": True, "timestamps": "epoch_ms", "delimiter": "\t"},
        {},
        None,
    ),
    "epoch_us_jsonl_broken": (
        "us.jsonl.gz",
        {"timestamps": "epoch_us", "broken_json_lines": [6]},
        {"on_bad_lines": "skip"},
        None,
    ),
    "naive_local_no_session": (
        "nosession.csv",
        {"timestamps": "naive", "zone": "America/New_York", "drop": ["session_id"]},
        {"timezone": "America/New_York"},
        None,
    ),
}
_SESSION_CASES = ("zone_names_cut", "naive_local_no_session")


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return generate_events(n_sessions=200, seed=11)[0]


@pytest.fixture(scope="module")
def exports(tmp_path_factory, log) -> dict[str, tuple[str, Config]]:
    """Each case's path to read and its config."""
    root = tmp_path_factory.mktemp("exports")
    written = {}
    for name, (file, options, keys, pattern) in _CASES.items():
        events = log
        if name == "float_ids_event_codes_tabs":  # a database dump writes its nulls as NULL
            events = log.assign(store_name=log["store_name"].fillna("NULL"))
        write_export(events, root / file, **options)
        columns = {k: v for k, v in _COLUMNS.items() if k not in options.get("drop", ())}
        sessions = {"max_len": 20}
        if options.get("numeric_events"):
            sessions["conversion_events"] = [str(event_codes(log)["order_placed"])]
        config = Config.from_dict(
            {"columns": columns, "input": keys, "sessions": sessions, "train": {"min_count": 1}}
        )
        written[name] = (str(root / (pattern or file)), config)
    return written


def _spark_events(spark, path: str, config: Config) -> pd.DataFrame:
    """The canonical events Spark reads from ``path``, as ``eventlift spark`` reads them."""
    from eventlift.spark.canonical import load_events, to_canonical

    frame, label = load_events(spark, path, config)
    return to_canonical(frame, config, source=label).toPandas()


def _rows(frame: pd.DataFrame, micros: np.ndarray) -> list[tuple]:
    """Every event as a tuple of its roles (nulls as None, time in µs), sorted."""
    text = [frame[role].astype(object).where(frame[role].notna(), None).tolist() for role in _TEXT]
    return sorted(zip(*text, micros.tolist(), strict=True), key=repr)


def test_spark_reads_every_export_to_the_local_events(spark, exports, log):
    for name, (path, config) in exports.items():
        local = read_events(path, config)
        found = _spark_events(spark, path, config)
        if "malformed_line" in found:  # kept aside, for prepare_sessions to count
            found = found[~found.pop("malformed_line")]
        assert len(found) == len(local), name
        expected_us = local["timestamp"].astype("datetime64[us]").astype(np.int64).to_numpy()
        assert _rows(found, found["ts_us"].to_numpy()) == _rows(local, expected_us), name
    zone = read_events(*exports["zone_names_cut"])
    assert read_report(zone).malformed_lines == 2  # the cut last line and the line not UTF-8
    codes = read_events(*exports["float_ids_event_codes_tabs"])
    assert codes["session_id"].iloc[0] == "0" and codes["event"].str.fullmatch(r"\d+").all()
    assert codes["store_name"].isna().sum() == log["store_name"].isna().sum() > 0


@pytest.mark.parametrize("name", _SESSION_CASES)
def test_spark_prepares_the_local_sessions(spark, exports, log, name):
    from eventlift.spark.canonical import load_events, to_canonical
    from eventlift.spark.prepare import prepare_sessions as spark_prepare

    path, config = exports[name]
    frame = read_events(path, config)
    data, split, encoded = prepare_sessions(frame, config, "no_funnel")
    raw, label = load_events(spark, path, config)
    prepared = spark_prepare(to_canonical(raw, config, source=label), config, "no_funnel")
    rows = prepared.sessions.toPandas().set_index("session_id")
    prepared.sessions.unpersist()
    assert sorted(rows.index) == sorted(encoded.session_ids), name
    rows = rows.loc[encoded.session_ids]
    assert prepared.counts == data.counts
    sessions = data.sessions.set_index("session_id")
    assert (rows["converted"].to_numpy() == sessions["converted"].to_numpy()).all()
    assert (rows["split"].to_numpy() == split.to_numpy()).all()
    assert prepared.vocabularies == encoded.vocabularies
    assert np.concatenate(rows["events"].to_list()).tolist() == data.events["event"].tolist()
    ts = np.concatenate(rows["ts"].to_list())
    assert (ts == data.events["timestamp"].astype("datetime64[us]").astype(np.int64)).all()
    skipped = prepared.counts["dropped_rows"]["malformed_lines"]
    assert skipped == read_report(frame).malformed_lines == (2 if name == "zone_names_cut" else 0)
    if skipped:  # the line that is not UTF-8 and the cut last line
        assert prepared.counts["malformed_line_numbers"] == ["line 4", f"line {len(log) + 1}"]
    derived = prepared.counts.get("sessions_derived")
    assert (derived is not None) == (name == "naive_local_no_session")


def test_malformed_lines_and_bad_timestamps_are_named(spark, log, tmp_path):
    from eventlift.spark.canonical import load_events, to_canonical

    config = Config.from_dict({"columns": _COLUMNS})
    with pytest.raises(DataError, match=r"part-\*\.csv\.gz' does not exist or holds no files"):
        load_events(spark, str(tmp_path / "part-*.csv.gz"), config)
    ragged = tmp_path / "ragged.csv"
    write_export(log.head(50), ragged, ragged_lines=[5])
    frame, label = load_events(spark, str(ragged), config)
    with pytest.raises(DataError, match=r"(?s)ragged\.csv.*line=5.*on_bad_lines = \"skip\""):
        to_canonical(frame, config, source=label)
    broken = log.head(50).astype({"timestamp": object})
    broken.loc[7, "timestamp"] = "yesterday"
    bad = tmp_path / "bad.csv"
    broken.to_csv(bad, index=False)
    frame, label = load_events(spark, str(bad), config)
    with pytest.raises(TimestampError, match=r"(?s)bad\.csv.*'yesterday'.*Accepted"):
        to_canonical(frame, config, source=label)


def test_integer_text_is_decided_for_the_whole_column(spark):
    """``"4.0"`` reads ``"4"`` only when the whole column holds integers, as locally, even where
    one partition alone would (the first three store ids)."""
    from eventlift.spark.canonical import to_canonical

    frame = pd.DataFrame(
        {
            "session_id": ["a", "a", "a", "b", "b", "b"],
            "timestamp": [f"2024-03-01 10:00:0{i} Europe/Berlin" for i in range(6)],
            "event": ["4", "4.0", "12", "4.00", "7", "12.0"],
            "store_id": ["4.0", "5.0", "5.0", "x", "4.0", "6"],
        }
    )
    config = Config.from_dict({"columns": {"store_id": "store_id"}})
    local = read_events(frame, config)
    parts = spark.createDataFrame(frame)  # rows 0-2 and 3-5, in order, in two partitions
    assert parts.rdd.getNumPartitions() == 2
    found = to_canonical(parts, config).toPandas()
    found = found.sort_values("row_number", ignore_index=True)
    assert found["event"].tolist() == local["event"].tolist() == ["4", "4", "12", "4", "7", "12"]
    assert found["store_id"].tolist() == local["store_id"].tolist() == frame["store_id"].tolist()
    expected = local["timestamp"].astype("datetime64[us]").astype(np.int64).tolist()
    assert found["ts_us"].tolist() == expected
