"""Shapes of real logs, each a small fixture with an exact expectation.

Short sessions, a single event type left after funnel exclusion, sessions of thousands of events,
100,000+ distinct stores, and too few conversions for the AUC to mean much.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

import eventlift
from eventlift.analysis.caveats import (
    MIN_CONVERTED_TEST_SESSIONS,
    hanley_mcneil_se,
    run_warnings,
)
from eventlift.config import Config
from eventlift.data.readers import read_events
from eventlift.data.sessions import build_sessions
from eventlift.data.vocab import UNK_ID

TINY = {
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32},
    "train": {"epochs": 1, "min_count": 1},
    "attribution": {"bootstrap": 20, "faithfulness_sessions": 0, "min_support": 2},
}


def log_of(sessions: list[list[str]], stores: list[str | None] | None = None) -> pd.DataFrame:
    """One row per event of ``sessions`` (a list of event names each), a minute apart; the
    session's store, when given, is on every event."""
    rows = []
    for s, names in enumerate(sessions):
        for i, name in enumerate(names):
            rows.append(
                {
                    "session_id": f"s{s}",
                    "timestamp": pd.Timestamp("2024-05-01") + pd.Timedelta(minutes=s * 90 + i),
                    "event": name,
                    "store_id": None if stores is None else stores[s],
                }
            )
    return pd.DataFrame(rows)


def test_mostly_one_or_two_event_sessions():
    shapes = [["view"]] * 180 + [["view", "buy"]] * 60 + [["search", "view"]] * 40
    shapes += [["promo", "buy"]] * 40 + [["view", "search", "click", "buy"]] * 20
    config = Config.from_dict({"sessions": {"conversion_events": ["buy"], "max_len": 8}, **TINY})
    result = eventlift.run(log_of(shapes), config, mode="no_funnel", write=False)
    counts = result.summary["counts"]
    assert (counts["sessions"], counts["converted_sessions"]) == (340, 120)
    assert result.sessions.sessions["n_events"].value_counts().to_dict() == {1: 280, 2: 40, 3: 20}
    position = result.tables["position"].set_index("position_bucket")
    test = result.session_table[result.session_table["split"] == "test"]
    assert position.loc["1-5", "n_events"] == test["n_events"].sum()
    assert position.loc["1-5", "n_sessions"] == len(test)
    empty = position.drop(index="1-5")
    assert (empty["n_events"] == 0).all()
    assert empty[["lift", "lift_ci_low", "lift_ci_high"]].isna().all().all()  # no made-up [0, 0]
    assert result.tables["event_position"]["position"].max() == 3


@pytest.fixture(scope="module")
def single_type(tmp_path_factory):
    """Page views only, once the funnel is out; converting sessions sit in store st0."""
    rng = np.random.default_rng(3)
    shapes, stores = [], []
    for s in range(320):
        store = f"st{s % 4}"
        views = ["page_view"] * int(rng.integers(1, 13))
        converts = (store == "st0" and s % 8 != 0) or s % 11 == 0
        shapes.append(views + (["add_to_cart", "purchase"] if converts else []))
        stores.append(store)
    out = tmp_path_factory.mktemp("single_type")
    config = {
        "columns": {"store_id": "store_id"},
        "sessions": {"conversion_events": ["purchase"], "funnel_events": ["add_to_cart"]},
        **TINY,
        "output": {"dir": str(out), "database": "", "write_plots": False},
    }
    results, _ = eventlift.compare(log_of(shapes, stores), config)
    return out, results


def test_single_event_type_says_why_its_lift_is_zero(single_type):
    out, results = single_type
    clean = results["no_funnel"]
    table = clean.tables["event_type"]
    assert table["event"].tolist() == ["page_view"]
    assert table["lift"].iloc[0] == pytest.approx(0.0, abs=1e-6)  # float32 shares of 1
    message = (
        "The event-type table has one row: after funnel exclusion 'page_view' is the only event "
        "type left, so it takes all of every session's attribution and its lift is 0 by "
        "construction. Read the position and store tables, which split the same attribution by "
        "place in the session and by store."
    )
    summary = json.loads((out / "outputs" / "run_summary_no_funnel.json").read_text())
    assert {"code": "single_event_type", "message": message} in summary["warnings"]
    assert len(clean.tables["store"]) == 4  # the store table carries the story
    assert clean.tables["position"]["lift"].abs().max() > 0
    leaky = results["with_funnel"]
    assert len(leaky.tables["event_type"]) == 2
    assert "single_event_type" not in [w["code"] for w in leaky.summary["warnings"]]
    page = (out / "report.html").read_text()
    section = page[page.index('id="no_funnel-event_type"') :]
    assert section.index(message.replace("'", "&#x27;")) < section.index("<table")


def test_few_conversions_warn_with_the_numbers(single_type):
    out, results = single_type
    summary = results["no_funnel"].summary
    test = summary["counts"]["sessions_by_split"]["test"]
    n1, n0 = test["converted"], test["sessions"] - test["converted"]
    assert n1 < MIN_CONVERTED_TEST_SESSIONS
    auc = summary["metrics"]["test_auc"]
    error = hanley_mcneil_se(auc, n1, n0)
    (warning,) = [w["message"] for w in summary["warnings"] if w["code"] == "few_conversions"]
    assert warning.startswith(
        f"Only {n1} converted sessions (and {n0} others) are in the test split, "
        f"{summary['counts']['converted_sessions']} converted in all: at this size the test AUC "
        f"({auc:.3f}) has a standard error of about {error:.3f} (Hanley-McNeil)"
    )
    assert warning.endswith(
        "Use a log with at least 667 converted sessions (100 in the test split)."
    )
    assert warning.replace("'", "&#x27;") in (out / "report.html").read_text()


def test_hanley_mcneil_standard_error_and_the_threshold():
    # A = 0.8, 50 and 50: Q1 = 2/3, Q2 = 0.6400/0.9 → SE² = (0.16 + 49·0.02667 + 49·0.07111)/2500
    assert hanley_mcneil_se(0.8, 50, 50) == pytest.approx(0.044502, abs=1e-6)
    assert math.isnan(hanley_mcneil_se(0.8, 0, 50))
    config = Config()
    for converted, warned in ((MIN_CONVERTED_TEST_SESSIONS - 1, True), (100, False)):
        summary = {
            "mode": "with_funnel",
            "counts": {
                "sessions_by_split": {"test": {"sessions": 1000, "converted": converted}},
                "converted_sessions": 7 * converted,
                "dropped_rows": {},
                "sessions": 7000,
                "events": 30_000,
                "truncated_sessions": 0,
            },
            "metrics": {"test_auc": 0.7},
            "attribution": {"funnel_events": ["cart"]},
        }
        event_type = pd.DataFrame({"event": ["a", "b"]})
        codes = [w["code"] for w in run_warnings(summary, event_type, config)]
        assert codes == (["few_conversions"] if warned else [])


def test_long_sessions_truncate_exactly_and_warn_what_truncation_hides():
    lengths = [3000, 5000, 40, 4100]
    shapes = [[f"e{i % 7}" for i in range(n)] + ["buy"] for n in lengths[:2]]
    shapes += [[f"e{i % 7}" for i in range(n)] for n in lengths[2:]]
    config = Config.from_dict(
        {"sessions": {"conversion_events": ["buy"], "max_len": 50, "truncate": "tail"}}
    )
    started = time.perf_counter()
    data = build_sessions(read_events(log_of(shapes), config), config.sessions, config.columns)
    assert time.perf_counter() - started < 5  # linear in the events: a few hundred ms
    assert data.counts["truncated_sessions"] == 3
    assert data.counts["dropped_rows"]["truncated"] == (3000 - 50) + (5000 - 50) + (4100 - 50)
    assert data.sessions["n_events"].tolist() == [50, 50, 40, 50]
    kept = data.events[data.events["session_id"] == "s1"]["event"].tolist()
    assert kept == [f"e{i % 7}" for i in range(5000 - 50, 5000)]  # the last 50 before "buy"

    shapes = [
        [f"e{i % 7}" for i in range(1000 + 50 * s)] + (["buy"] if s % 3 else []) for s in range(36)
    ]
    config = Config.from_dict({"sessions": {"conversion_events": ["buy"], "max_len": 40}, **TINY})
    result = eventlift.run(log_of(shapes), config, mode="no_funnel", write=False)
    counts = result.summary["counts"]
    cut = sum(1000 + 50 * s - 40 for s in range(36))
    assert (counts["truncated_sessions"], counts["dropped_rows"]["truncated"]) == (36, cut)
    assert counts["events"] == 36 * 40
    share = cut / (cut + 36 * 40)
    (warning,) = [w["message"] for w in result.summary["warnings"] if w["code"] == "long_sessions"]
    assert warning == (
        f"36 of 36 sessions are longer than [sessions] max_len = 40 and keep their first 40 "
        f"events: {cut:,} events ({share:.0%}) are never seen by the model. Raise max_len, set "
        f'truncate = "tail" to keep the events nearest the conversion, or split long sessions by '
        f"inactivity ([sessions] derive_sessions = true)."
    )


def test_a_hundred_thousand_distinct_stores():
    n_sessions, per_session = 11_200, 10
    n_events = n_sessions * per_session
    rng = np.random.default_rng(0)
    session = np.repeat(np.arange(n_sessions), per_session)
    # one store per event, except the first event of every session, at one of five big stores
    stores = np.array([f"store{i}" for i in range(n_events)], dtype=object)
    first = np.arange(0, n_events, per_session)
    stores[first] = [f"big{k}" for k in rng.integers(0, 5, size=n_sessions)]
    events = pd.DataFrame(
        {
            "session_id": [f"s{k}" for k in session],
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(session * 3600 + np.tile(np.arange(per_session), n_sessions), "s"),
            "event": np.where(np.arange(n_events) % 2, "view", "click"),
            "store_id": stores,
        }
    )
    buys = events.iloc[first[rng.random(n_sessions) < 0.2]].assign(event="buy", store_id=None)
    buys["timestamp"] += pd.Timedelta(seconds=per_session)
    events = pd.concat([events, buys], ignore_index=True)
    config = Config.from_dict(
        {
            "columns": {"store_id": "store_id"},
            "sessions": {"conversion_events": ["buy"]},
            **TINY,
            "train": {"epochs": 1, "min_count": 5, "batch_size": 1024},
        }
    )
    started = time.perf_counter()
    result = eventlift.run(events, config, mode="no_funnel", write=False)
    seconds = time.perf_counter() - started
    coverage = result.summary["counts"]["vocabulary"]["store"]
    assert coverage == {"known_values": 5, "events_with_value": n_events, "unknown_share": 0.9}
    (rare,) = [w["message"] for w in result.summary["warnings"] if w["code"] == "rare_stores"]
    assert rare.startswith(
        "90% of the events carry a store seen fewer than [train] min_count = 5 times in "
        "training (the model knows 5): they share one <unk> embedding"
    )
    assert (result.encoded.inputs["store"][:, 1:per_session] == UNK_ID).all()
    test = result.event_level("test")
    store = result.tables["store"]
    assert len(store) == test["store_id"].nunique() == len(test) - test["session_id"].nunique() + 5
    assert store["low_support"].sum() == len(store) - 5  # every one-event store
    assert seconds < 60  # about 5 s on two cores: nothing grows with the number of stores squared
