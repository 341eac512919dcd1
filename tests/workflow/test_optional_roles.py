"""Every optional role optional: a log without stores, categories, details, users or session ids.

Each case drops roles from one small log (the columns leave the input and the config), runs both
modes, the report and the DuckDB file once, and checks what is left out and that it says why.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import eventlift
from eventlift.cli import app
from eventlift.data.readers import read_events
from eventlift.data.sessions import build_sessions
from eventlift.exceptions import MissingColumnError

FULL = {
    "session_id": "session",
    "user_id": "user",
    "timestamp": "ts",
    "event": "name",
    "event_category": "category",
    "event_detail": "detail",
    "store_id": "shop",
    "store_name": "shop_name",
}
# case -> the roles whose columns leave the input and the config
CASES = {
    "no_store": ("store_id", "store_name"),
    "no_category": ("event_category",),
    "no_detail": ("event_detail",),
    "no_user": ("user_id",),
    "none_optional": ("user_id", "event_category", "event_detail", "store_id", "store_name"),
}
TINY = {
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32},
    "train": {"epochs": 1, "min_count": 1},
    "attribution": {"bootstrap": 20, "faithfulness_sessions": 0, "min_support": 2},
}
SESSIONS = {
    "conversion_events": ["purchase"],
    "funnel_events": ["add_to_cart"],
    "use_event_detail": True,
    "max_len": 12,
}


def shop_log(n_sessions: int = 300, seed: int = 0) -> pd.DataFrame:
    """Sessions of 2-8 browsing events under the names of :data:`FULL`; a session holding
    ``promo`` converts (add_to_cart, then purchase), and every other one in seven does too."""
    rng = np.random.default_rng(seed)
    names = np.array(["view", "search", "click", "scroll", "promo"])
    rows = []
    for s in range(n_sessions):
        events = list(rng.choice(names, size=int(rng.integers(2, 9)), p=[0.4, 0.2, 0.2, 0.1, 0.1]))
        if "promo" in events or s % 7 == 0:
            events += ["add_to_cart", "purchase"]
        for i, event in enumerate(events):
            category = {"add_to_cart": "funnel", "purchase": "conversion"}.get(event, "browse")
            shop = f"st{rng.integers(0, 4)}" if event in ("view", "click") else None
            rows.append(
                {
                    "session": f"s{s}",
                    "user": f"u{s // 3}",
                    "ts": pd.Timestamp("2024-03-01") + pd.Timedelta(seconds=s * 7200 + i * 40),
                    "name": event,
                    "category": category,
                    "detail": "shoes" if event == "view" and i % 2 else None,
                    "shop": shop,
                    "shop_name": None if shop is None else f"Shop {shop}",
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module", params=list(CASES))
def case_run(request, tmp_path_factory):
    """Both modes, the report and the DuckDB file of one case, run once."""
    case = request.param
    dropped = CASES[case]
    out = tmp_path_factory.mktemp(case)
    events = shop_log().drop(columns=[FULL[role] for role in dropped])
    columns = {role: column for role, column in FULL.items() if role not in dropped}
    config = {
        "columns": columns,
        "sessions": SESSIONS,
        **TINY,
        "output": {"dir": str(out), "write_plots": case == "none_optional"},
    }
    results, comparison = eventlift.compare(events, config)
    return case, dropped, out, results, comparison


def test_each_run_leaves_out_what_its_roles_cannot_fill_and_warns(case_run):
    _, dropped, out, results, comparison = case_run
    for mode, result in results.items():
        summary = json.loads((out / "outputs" / f"run_summary_{mode}.json").read_text())
        if "store_id" in dropped:
            assert summary["skipped_outputs"] == {
                "store_attribution": "No [columns] store_id is mapped, so there is no store to "
                "attribute to; map the store (or item) column to get the store table."
            }
            assert "store" not in result.tables
        else:
            assert summary["skipped_outputs"] == {}
            assert len(result.tables["store"]) == 4  # st0..st3
        vocabularies = set(summary["counts"]["vocabulary"])
        assert vocabularies == {"event", "category", "store"} - {
            {"store_id": "store", "event_category": "category"}.get(role) for role in dropped
        }
        codes = [warning["code"] for warning in summary["warnings"]]
        # one epoch on a small log: the verdict decides whether it is better than counting
        not_better = summary["baseline_verdict"]["better_than_counting"] is False
        expected = ["not_better_than_counting"] * not_better + ["few_conversions"]
        suggestion = summary["funnel_suggestion"]
        if suggestion:  # a leak named outside the declared funnel: declare it beside it
            assert suggestion["config"].startswith('[sessions] funnel_events = ["add_to_cart", ')
            expected.append("undeclared_leaks")
        if "event_detail" in dropped:
            expected.append("event_detail_unmapped")
        assert codes == expected
        tokens = set(result.tables["event_type"]["event"])
        assert ("view - shoes" in tokens) is ("event_detail" not in dropped)
        users = result.session_table["user_id"]
        assert users.isna().all() if "user_id" in dropped else users.notna().all()
    has_store = "store_id" not in dropped
    with duckdb.connect(str(out / "eventlift.duckdb"), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("SHOW TABLES").fetchall()}
        written = connection.execute("SELECT mode, tables FROM runs ORDER BY mode").fetchall()
    for mode in ("no_funnel", "with_funnel"):
        assert (out / "outputs" / f"store_attribution_{mode}.csv").is_file() is has_store
        assert (f"store_attribution_{mode}" in tables) is has_store
        assert f"event_type_attribution_{mode}" in tables
    assert [(f"store_attribution_{mode}" in names) for mode, names in written] == [has_store] * 2
    assert comparison.funnel_events == ["add_to_cart"]  # found by name, with or without category
    category = pd.read_csv(out / "outputs" / "event_type_attribution_no_funnel.csv")
    assert bool(category["event_category"].isna().all()) is ("event_category" in dropped)


def test_the_report_says_why_a_section_is_left_out(case_run):
    case, dropped, out, _, _ = case_run
    page = (out / "report.html").read_text()
    left_out = "Left out: No [columns] store_id is mapped, so there is no store to attribute to"
    assert page.count(left_out) == (2 if "store_id" in dropped else 0)  # once per mode
    no_category = "The category column is left out: no [columns] event_category is mapped."
    assert page.count(no_category) == (2 if "event_category" in dropped else 0)
    assert page.count("Only ") >= 2 and "(Hanley-McNeil)" in page  # the warnings box per mode
    assert ('<img src="data:image/png;base64,' in page) is (case == "none_optional")


def derive_log() -> pd.DataFrame:
    """Two users; u1's events split by a 2-hour pause, u2's by none: three sessions, two of
    which convert."""
    rows = [
        ("u1", 0, "view"), ("u1", 60, "buy"),
        ("u1", 7200, "view"), ("u1", 7260, "click"),
        ("u2", 0, "search"), ("u2", 1200, "view"), ("u2", 2400, "buy"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["visitor", "seconds", "event"])
    frame["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.pop("seconds"), "s")
    return frame


def derive_config(**columns: str) -> eventlift.Config:
    return eventlift.Config.from_dict(
        {
            "columns": {"user_id": "visitor", **columns},
            "sessions": {"conversion_events": ["buy"], "inactivity_gap_minutes": 30},
        }
    )


def test_session_id_left_out_reads_its_column_else_derives_sessions_from_the_user():
    config = derive_config()
    data = build_sessions(read_events(derive_log(), config), config.sessions, config.columns)
    assert data.sessions["session_id"].tolist() == ["u1#1", "u1#2", "u2#1"]
    assert data.sessions["converted"].tolist() == [True, False, True]
    derived = data.counts["sessions_derived"]
    assert (derived["from"], derived["gap_minutes"]) == ("user_id", 30.0)
    assert derived["why"].startswith("derived from 'visitor' with a 30-minute inactivity gap")
    # with a column named session_id, that column is used
    events = derive_log().assign(session_id=["a", "a", "a", "a", "b", "b", "c"])
    data = build_sessions(read_events(events, config), config.sessions, config.columns)
    assert data.sessions["session_id"].tolist() == ["a", "b"]  # c starts with its conversion
    assert data.sessions["converted"].tolist() == [True, False]
    assert "sessions_derived" not in data.counts
    # an explicit mapping to a missing column stays an error
    for name in ("session_id", "sid"):
        with pytest.raises(MissingColumnError, match=rf"role 'session_id' is mapped to .*'{name}'"):
            read_events(derive_log(), derive_config(session_id=name))


def test_cli_says_sessions_are_derived_and_shows_the_warnings(tmp_path):
    log = shop_log(240).drop(columns=["session", "shop", "shop_name"])
    log.to_csv(tmp_path / "events.csv", index=False)
    (tmp_path / "run.toml").write_text(
        """
[input]
path = "events.csv"
[columns]
user_id = "user"
timestamp = "ts"
event = "name"
[sessions]
conversion_events = ["purchase"]
inactivity_gap_minutes = 30
[model]
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 32
[train]
epochs = 1
min_count = 1
[attribution]
bootstrap = 20
faithfulness_sessions = 0
[output]
dir = "out"
write_plots = false
"""
    )
    result = CliRunner().invoke(app, ["run", str(tmp_path / "run.toml")])
    assert result.exit_code == 0, result.output
    assert "mode no_funnel\nepoch 1/1: validation AUC" in result.output  # no blank bar lines
    text = " ".join(result.output.split())  # rich wraps at 80 columns
    assert "sessions: derived from 'user' with a 30-minute inactivity gap: [columns] " in text
    assert "warning: Only " in text and "(Hanley-McNeil)" in text
    assert "left out store_attribution: No [columns] store_id is mapped" in text
    summary = json.loads((tmp_path / "out" / "outputs" / "run_summary_no_funnel.json").read_text())
    assert summary["counts"]["sessions_derived"]["from"] == "user_id"
    assert summary["config"]["columns"]["session_id"] == ""
    assert summary["counts"]["sessions"] == 240  # two hours between users' sessions
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    derived = page.split("<h4>sessions derived</h4>")[1].split("</table>")[0]
    assert '<th scope="col">fact</th>' in derived and "<td>gap minutes</td>" in derived
