"""`eventlift init`: roles from names and content, event candidates, a config that runs as is."""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import eventlift
from eventlift.cli import app
from eventlift.config import load_config
from eventlift.data.exports import event_codes, id_numbers, write_export
from eventlift.data.peek import Sample
from eventlift.data.profile import profile_sample, profile_source
from eventlift.data.readers import read_events
from eventlift.data.sessions import build_sessions
from eventlift.data.synthetic import generate_events
from eventlift.exceptions import DataError, EmptyInputError, EventliftError
from eventlift.workflow.starter_config import summary, write_config
from support.paths import SHARED_DATA

OTTO = SHARED_DATA / "otto-sample.jsonl"
SMALL = {
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32},
    "train": {"epochs": 1},
    "attribution": {"bootstrap": 20, "faithfulness_sessions": 0},
    "output": {"write_plots": False},
}
FUNNEL = ["action_add_item", "cart_page_load", "checkout_page_load"]  # most frequent first
runner = CliRunner()


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate_events(n_sessions=600, seed=1)[0]


def written(profile, folder: Path) -> tuple[str, eventlift.Config]:
    """Write the proposed config into ``folder``; its text and what load_config makes of it.

    The config is also read and labelled as the run would, so each fixture proves it runs.
    """
    path = write_config(profile, folder / "proposed.toml")
    config = load_config(path)
    if config.input.path or config.input.query:
        data = build_sessions(read_events(None, config), config.sessions, config.columns)
        assert data.counts["converted_sessions"] > 0
    return path.read_text(encoding="utf-8"), config


def test_flat_csv_with_zone_names_and_no_session_id(events, tmp_path):
    """An e-commerce export: product category and price are no roles, sessions are derived."""
    frame = events.drop(columns=["session_id", "event_category"])
    product = id_numbers(frame["store_id"])
    frame["category_code"] = np.where(product % 3 == 0, "electronics.phone", "apparel.shoes")
    frame.loc[product.isna(), "category_code"] = None
    frame["price"] = (product.fillna(1) * 1.37) % 500 + 0.99
    names = {"timestamp": "event_time", "event": "event_type", "store_id": "product_id"}
    write_export(
        frame,
        tmp_path / "events.csv",
        timestamps="zone_name",
        rename={**names, "store_name": "brand"},
    )
    profile = profile_source(tmp_path / "events.csv")
    assert profile.roles == {
        "timestamp": "event_time",
        "user_id": "user_id",
        "event": "event_type",
        "store_id": "product_id",
        "store_name": "brand",
    }
    assert profile.derive_sessions
    assert "varies within one event name" in profile.evidence["category_code"]
    assert profile.evidence["event_time"].startswith("text like '2026-10-")
    assert profile.events.conversion == ["order_placed"]
    assert profile.events.funnel == FUNNEL
    assert profile.events.top[0] == ("m_card_view", int((events["event"] == "m_card_view").sum()))
    text, config = written(profile, tmp_path)
    assert config.columns.session_id is None and config.columns.user_id == "user_id"
    assert config.sessions.inactivity_gap_minutes == 30.0
    assert config.input.path == str(tmp_path / "events.csv")
    assert 'path = "events.csv"' in text and "session_id =" not in text
    assert "# 'event_type': 16 distinct values, most frequent 'm_card_view' (31 %)" in text


def test_semicolon_csv_with_numeric_event_codes(events, tmp_path):
    """Codes instead of names: the conversion is the last late step, the funnel only a hint."""
    write_export(
        events.drop(columns=["event_category"]),
        tmp_path / "events.csv",
        delimiter=";",
        numeric_events=True,
        timestamps="epoch_ms",
        bom=True,
        crlf=True,
    )
    profile = profile_source(tmp_path / "events.csv")
    codes = {name: str(code) for name, code in event_codes(events).items()}
    assert profile.settings == {
        "path": str(tmp_path / "events.csv"),
        "delimiter": ";",
        "timestamp_unit": "ms",
    }
    assert profile.roles == {
        "timestamp": "timestamp",
        "session_id": "session_id",
        "user_id": "user_id",
        "event": "event",
        "store_id": "store_id",
        "store_name": "store_name",
    }
    assert profile.events.distinct == 16  # "4" and "4.0" are one event
    assert profile.events.conversion == [codes["order_placed"]]
    assert profile.events.funnel == []
    for name in FUNNEL:
        assert repr(codes[name]) in profile.events.funnel_why
    _, config = written(profile, tmp_path)
    assert config.input.delimiter == ";" and config.input.timestamp_unit == "ms"
    assert config.sessions.conversion_events == [codes["order_placed"]]


def test_jsonl_with_camel_case_names(events, tmp_path):
    rename = {
        "session_id": "sessionId",
        "user_id": "visitorId",
        "timestamp": "eventTime",
        "event": "eventName",
        "event_category": "eventCategory",
        "store_id": "itemId",
        "store_name": "itemName",
    }
    write_export(events, tmp_path / "events.jsonl.gz", timestamps="iso_z", rename=rename)
    profile = profile_source(tmp_path / "events.jsonl.gz")
    assert profile.roles == {role: rename[role] for role in rename}
    assert not profile.derive_sessions
    assert profile.events.conversion == ["order_placed"]
    assert profile.events.funnel == FUNNEL
    _, config = written(profile, tmp_path)
    assert config.columns.session_id == "sessionId" and config.columns.event == "eventName"


def test_a_list_of_parameters_beside_the_event_time_is_not_nested_events(events, tmp_path):
    """Analytics exports nest each event's parameters: the rows are the events already."""
    frame = events.head(3000).copy()
    frame["event_params"] = [[{"key": "screen", "value": f"s{i % 7}"}] for i in range(len(frame))]
    write_export(frame, tmp_path / "events.jsonl", timestamps="epoch_us")
    profile = profile_source(tmp_path / "events.jsonl")
    assert "nested_events" not in profile.settings and profile.rows == 3000
    assert (
        profile.settings["timestamp_unit"] == "us" and "event_params" not in profile.roles.values()
    )


def test_parquet_with_float_ids_and_misleading_names(events, tmp_path):
    """Content overrules names: 'session' spans days (a user), 'type' never changes in one."""
    frame = events.drop(columns=["session_id"])
    frame["type"] = np.where(id_numbers(frame["user_id"]) % 2 == 0, "ios", "android")
    write_export(
        frame,
        tmp_path / "events.parquet",
        timestamps="epoch_us",
        float_ids=True,
        rename={"user_id": "session", "event": "action"},
    )
    profile = profile_source(tmp_path / "events.parquet")
    assert profile.roles == {
        "timestamp": "timestamp",
        "user_id": "session",
        "event": "action",
        "event_category": "event_category",
        "store_id": "store_id",
        "store_name": "store_name",
    }
    assert profile.derive_sessions and profile.settings["timestamp_unit"] == "us"
    assert "86 % hold a gap over 30 minutes" in profile.evidence["session"]
    assert profile.evidence["type"].startswith("named like an event but constant within")
    _, config = written(profile, tmp_path)
    read = read_events(None, config)
    assert read["store_id"].dropna().iloc[0] == str(int(id_numbers(events["store_id"]).dropna()[0]))


def test_a_user_level_session_id_column_is_not_read_as_sessions(events, tmp_path):
    frame = events.drop(columns=["session_id"]).rename(columns={"user_id": "session_id"})
    profile = profile_sample(Sample("<DataFrame>", frame))
    assert profile.roles["user_id"] == "session_id" and "session_id" not in profile.roles
    text, config = written(profile, tmp_path)
    assert 'session_id = ""' in text and 'user_id = "session_id"' in text
    assert config.columns.session_id == "" and config.columns.user_id == "session_id"


def test_nested_otto_export(tmp_path):
    """One object per user holding its events: flattened, and the 'session' key is a user."""
    profile = profile_source(OTTO)
    assert profile.settings == {
        "path": str(OTTO),
        "nested_events": "events",
        "timestamp_unit": "ms",
    }
    assert profile.roles == {
        "timestamp": "ts",
        "user_id": "session",
        "event": "type",
        "store_id": "aid",
    }
    assert profile.derive_sessions and profile.rows == 862
    assert profile.events.top == [("clicks", 800), ("carts", 52), ("orders", 10)]
    assert profile.events.conversion == ["orders"] and profile.events.funnel == ["carts"]
    _, config = written(profile, tmp_path)
    assert Path(config.input.path).resolve() == OTTO.resolve()
    assert len(read_events(None, config)) == 862


def test_a_duckdb_query_is_sampled_with_a_limit(events, tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute("CREATE TABLE app_events AS SELECT * FROM events")
    query = "SELECT * FROM app_events WHERE event <> 'tab_switch';"
    profile = profile_source(query=query, database=str(tmp_path / "warehouse.duckdb"), rows=5000)
    assert profile.rows == 5000 and profile.roles["event_category"] == "event_category"
    assert profile.evidence["timestamp"].startswith("datetimes, 2026-10-01 ")
    assert profile.evidence["timestamp"].endswith(
        "(no zone given: read as UTC; [input] timezone names it if they are local times)"
    )
    text, config = written(profile, tmp_path)
    assert 'database = "warehouse.duckdb"' in text
    assert config.input.query == query and "LIMIT" not in config.input.query


def test_skipped_lines_are_counted_in_the_config(events, tmp_path):
    write_export(events.head(3000), tmp_path / "cut.csv.gz", ragged_lines=[7], cut_last_line=True)
    profile = profile_source(tmp_path / "cut.csv.gz")
    assert profile.settings["on_bad_lines"] == "skip"
    assert profile.notes["on_bad_lines"].startswith(
        "the sample held 2 malformed line(s) (line 7: has 8 field(s), expected 7; line 3001: has "
    )
    assert profile.rows == 2998


def test_only_the_sample_is_read_from_a_large_file(events, tmp_path):
    """A download cut short and a broken line far down: the sample's rows never reach them."""
    large = pd.concat([events] * 4, ignore_index=True)  # ~2.5 MB of CSV text
    (csv,) = write_export(large, tmp_path / "events.csv.gz", ragged_lines=[2500])
    cut = csv.read_bytes()
    csv.write_bytes(cut[: len(cut) * 9 // 10])  # the gzip stream ends early
    (jsonl,) = write_export(events.head(3000), tmp_path / "events.jsonl", broken_json_lines=[2500])
    parts = write_export(events.head(3000), tmp_path / "parts", fmt="parquet", parts=3)
    for path, rows in ((csv, 1000), (jsonl, 1000), (parts[0].parent, 500)):
        profile = profile_source(path, rows=rows)
        assert profile.rows == rows and "on_bad_lines" not in profile.settings, path
    with pytest.raises(DataError, match="ends early"):
        profile_source(csv, rows=10**6)  # the whole file


def test_init_then_run_without_editing_the_config(events, tmp_path):
    """The whole first day: an awkward export, `eventlift init`, then the run on that file."""
    folder = tmp_path / "export"
    folder.mkdir()
    write_export(
        events,
        folder / "events.csv.gz",
        timestamps="mixed_zones",
        drop=["session_id"],
        bom=True,
        crlf=True,
        cut_last_line=True,
    )
    config_path = tmp_path / "my.toml"
    result = runner.invoke(app, ["init", str(folder / "events.csv.gz"), "--out", str(config_path)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {config_path}. Next: eventlift run {config_path}" in result.output
    config = load_config(config_path)
    assert config.input.on_bad_lines == "skip" and config.sessions.conversion_events == [
        "order_placed"
    ]
    run = eventlift.run(None, config.replace(**SMALL), mode="no_funnel")
    counts = run.summary["counts"]
    assert counts["sessions_derived"]["from"] == "user_id"
    assert counts["dropped_rows"]["malformed_lines"] == 1
    assert counts["rows_read"] == counts["events"] + sum(counts["dropped_rows"].values())
    assert counts["dropped_rows"]["funnel_events"] > 0
    assert (tmp_path / "eventlift_output").is_dir() and 0 <= run.metrics["test_auc"] <= 1


def test_an_existing_config_is_kept_unless_forced(events, tmp_path):
    write_export(events.head(2000), tmp_path / "events.csv")
    target = tmp_path / "eventlift.toml"
    target.write_text("# my edits\n")
    refused = runner.invoke(app, ["init", str(tmp_path / "events.csv"), "--out", str(target)])
    assert refused.exit_code == 2 and "the file exists" in refused.output
    assert "--force" in refused.output and "Traceback" not in refused.output
    assert target.read_text() == "# my edits\n"
    forced = runner.invoke(
        app,
        ["init", str(tmp_path / "events.csv"), "--out", str(target), "--force", "--rows", "500"],
    )
    assert forced.exit_code == 0, forced.output
    assert "only the first 500 rows were read" in " ".join(forced.output.split())
    assert "first 500 rows" in target.read_text() and load_config(target).columns.event == "event"


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        (None, DataError, "file does not exist"),
        ("", DataError, r"the file is empty \(0 bytes\)"),
        ("session_id,timestamp,event\n", EmptyInputError, "columns but no rows"),
        (
            "session_id,event\ns1,view\ns1,buy\ns2,view\n",
            DataError,
            "no column reads as event times",
        ),
        (
            "session_id,timestamp,amount\ns1,2024-01-01 10:00:00,1.5\ns1,2024-01-01 10:01:00,2.5\n"
            "s2,2024-01-01 11:00:00,3.25\n",
            DataError,
            "no column looks like event names",
        ),
    ],
)
def test_bad_input_names_the_file_and_the_fix(tmp_path, content, error, match):
    path = tmp_path / "events.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=match) as caught:
        profile_source(path)
    assert str(path) in str(caught.value) and "Fix:" in str(caught.value)


def test_missing_file_from_the_command_line(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "nope.csv: file does not exist" in result.output
    assert not (tmp_path / "c").exists()


def test_summary_fits_80_columns_without_cutting(events, tmp_path):
    write_export(events, tmp_path / "events.csv", drop=["session_id"])
    profile = profile_source(tmp_path / "events.csv")
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(summary(profile))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    flat = " ".join(text.split())
    for column in events.columns.drop("session_id"):
        assert column in flat
    assert "sessions: derived from 'user_id' with a 30-minute inactivity gap" in flat


def test_init_needs_a_file_or_a_query(tmp_path):
    with pytest.raises(EventliftError, match="give either a data file"):
        profile_source(None)
