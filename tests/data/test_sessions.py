"""Sessions and labels follow the session rules exactly; every dropped row is counted by reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventlift.config import Config
from eventlift.data.sessions import build_sessions
from eventlift.exceptions import EmptyInputError, LabelError
from support.logs import make_events
from support.paths import REPO


def sessions_of(events, mode="no_funnel", **sessions):
    config = Config.from_dict(
        {
            "columns": {
                "user_id": "user_id",
                "event_category": "event_category",
                "store_id": "store_id",
            },
            "sessions": {"conversion_events": ["buy"], **sessions},
        }
    )
    return build_sessions(events, config.sessions, config.columns, mode=mode)


LOG = make_events(
    [
        # converted: funnel step, conversion, then an event after it
        ("a", "u1", 30, "click", "click", "st1"),
        ("a", "u1", 10, "view", "impression", "st1"),  # earlier in time, later in input
        ("a", "u1", 40, "cart", "funnel", None),
        ("a", "u1", 50, "buy", "conversion", None),
        ("a", "u1", 60, "view", "impression", "st2"),
        # not converted, with a tie in time, a null name and a duplicate row
        ("b", "u2", 0, "view", "impression", "st1"),
        ("b", "u2", 5, "search", "search", None),
        ("b", "u2", 5, "click", "click", "st3"),
        ("b", "u2", 6, None, "click", None),
        ("b", "u2", 9, "view", "impression", "st3"),
        ("b", "u2", 9, "view", "impression", "st3"),
        # starts with the conversion
        ("c", "u3", 0, "buy", "conversion", None),
        ("c", "u3", 1, "view", "impression", None),
        # only funnel events before the conversion: emptied by exclusion
        ("d", "u4", 0, "cart", "funnel", None),
        ("d", "u4", 1, "buy", "conversion", None),
    ]
)


def test_order_label_cut_and_counts():
    data = sessions_of(LOG)
    assert data.sessions["session_id"].tolist() == ["a", "b"]
    assert data.sessions["converted"].tolist() == [True, False]
    a = data.events[data.events["session_id"] == "a"]
    assert a["event"].tolist() == ["view", "click"]  # time order; funnel and post-buy removed
    assert a["position"].tolist() == [1, 2]
    b = data.events[data.events["session_id"] == "b"]
    assert b["event"].tolist() == ["view", "search", "click", "view"]  # tie keeps input order
    assert b["gap_seconds"].tolist() == [0.0, 5.0, 0.0, 4.0]
    counts = data.counts
    assert counts["rows_read"] == 15
    assert counts["dropped_rows"] == {
        "null_event_name": 1,
        "null_session_key": 0,
        "null_timestamp": 0,
        "duplicate_rows": 1,
        "session_starts_with_conversion": 2,
        "at_or_after_conversion": 3,  # a: buy + later view; d: buy
        "funnel_events": 2,
        "truncated": 0,
    }
    assert counts["dropped_sessions"] == {
        "starts_with_conversion": 1,
        "emptied_by_funnel_exclusion": 1,
    }
    assert counts["timestamp_ties"] == 1  # b: search and click at 5 s (the duplicate is gone)
    assert counts["sessions"] == 2 and counts["converted_sessions"] == 1


def test_with_funnel_keeps_funnel_events():
    data = sessions_of(LOG, mode="with_funnel")
    assert data.sessions["session_id"].tolist() == ["a", "b", "d"]
    assert data.events[data.events["session_id"] == "a"]["event"].tolist() == [
        "view",
        "click",
        "cart",
    ]


def test_funnel_by_name_and_head_tail_truncation():
    rows = [("s", "u", i, f"e{i}", "x", None) for i in range(6)]
    rows += [("t", "u2", 0, "e0", "x", None), ("t", "u2", 1, "buy", "x", None)]
    log = make_events(rows)
    head = sessions_of(log, funnel_events=["e1"], max_len=3)
    assert head.events[head.events["session_id"] == "s"]["event"].tolist() == ["e0", "e2", "e3"]
    tail = sessions_of(log, funnel_events=["e1"], max_len=3, truncate="tail")
    assert tail.events[tail.events["session_id"] == "s"]["event"].tolist() == ["e3", "e4", "e5"]
    assert tail.events[tail.events["session_id"] == "s"]["position"].tolist() == [1, 2, 3]
    assert tail.counts["truncated_sessions"] == 1
    assert tail.counts["dropped_rows"]["truncated"] == 2


def test_derived_sessions_split_on_inactivity():
    rows = [
        ("x", "u1", 0, "view", "i", None),
        ("x", "u1", 600, "view", "i", None),
        ("x", "u1", 600 + 31 * 60, "click", "c", None),  # 31 min later: a new session
        ("x", "u1", 600 + 32 * 60, "buy", "c", None),
        ("x", "u2", 0, "view", "i", None),
    ]
    config = Config.from_dict(
        {
            "columns": {"session_id": "", "user_id": "user_id"},
            "sessions": {"conversion_events": ["buy"]},
        }
    )
    events = make_events(rows).assign(session_id=None)
    data = build_sessions(events, config.sessions, config.columns)
    assert data.sessions["session_id"].tolist() == ["u1#1", "u1#2", "u2#1"]
    assert data.sessions["converted"].tolist() == [False, True, False]
    assert data.sessions["n_events"].tolist() == [2, 1, 1]


def test_category_conversion_when_no_names_given():
    events = make_events(
        [
            ("a", "u", 0, "view", "i", None),
            ("a", "u", 1, "paid", "conversion", None),
            ("b", "u", 9, "view", "i", None),
        ]
    )
    config = Config.from_dict({"columns": {"event_category": "event_category"}})
    data = build_sessions(events, config.sessions, config.columns)
    assert data.sessions["converted"].tolist() == [True, False]


def test_no_conversion_lists_frequent_events():
    events = make_events([("a", "u", 0, "view", "i", None), ("a", "u", 1, "click", "c", None)])
    with pytest.raises(LabelError, match=r"'buy'\] never occur.*'view'.*conversion_events"):
        sessions_of(events)
    config = Config.from_dict({})
    with pytest.raises(LabelError, match=r"no conversion event found.*Fix: set \[sessions\]"):
        build_sessions(events, config.sessions, config.columns)


def test_every_session_converting_is_an_error():
    events = make_events(
        [
            ("a", "u", 0, "view", "i", None),
            ("a", "u", 1, "buy", "c", None),
            ("b", "u", 5, "click", "c", None),
            ("b", "u", 6, "buy", "c", None),
        ]
    )
    with pytest.raises(LabelError, match=r"every one of the 2 sessions converts.*Fix"):
        sessions_of(events)


def test_nothing_left_is_an_error():
    events = make_events([("a", "u", 0, "cart", "funnel", None), ("a", "u", 1, "buy", "c", None)])
    with pytest.raises(EmptyInputError, match="no events are left"):
        sessions_of(events)
    with pytest.raises(EmptyInputError, match="holds no events"):
        sessions_of(events.iloc[:0])


def test_event_detail_tokens():
    events = make_events(
        [
            ("a", "u", 0, "view", "i", None),
            ("a", "u", 1, "view", "i", None),
            ("a", "u", 2, "buy", "c", None),
            ("b", "u", 9, "view", "i", None),
        ]
    )
    events["event_detail"] = pd.array(["Carousel", None, None, "Search"], dtype="string")
    data = sessions_of(events, use_event_detail=True)
    assert data.events["event"].tolist() == ["view - Carousel", "view", "view - Search"]
    assert data.events["event_name"].tolist() == ["view", "view", "view"]


def test_real_otto_export_derives_sessions_by_inactivity():
    """The nested OTTO sample: users span days, so sessions come from the 30-minute gap."""
    from pathlib import Path

    from eventlift.config import load_config
    from eventlift.data.readers import read_events

    example = REPO / "examples" / "otto.toml"
    config = load_config(example)
    if not Path(config.input.path).is_file():
        pytest.skip(f"shared sample data not found at {config.input.path}")
    events = read_events(None, config)
    counts = {}
    for mode in ("no_funnel", "with_funnel"):
        data = build_sessions(events, config.sessions, config.columns, mode=mode)
        counts[mode] = data.counts
        assert data.sessions["session_id"].str.fullmatch(r"\d+#\d+").all()
        assert data.sessions["user_id"].nunique() == 20
    assert counts["with_funnel"]["sessions"] == 144
    assert counts["with_funnel"]["converted_sessions"] == 5
    assert counts["with_funnel"]["dropped_rows"]["at_or_after_conversion"] == 19
    # one converted session held only a cart before its order: emptied without funnel events
    assert counts["no_funnel"]["dropped_sessions"]["emptied_by_funnel_exclusion"] == 1
    assert counts["no_funnel"]["sessions"] == 143
    assert counts["no_funnel"]["dropped_rows"]["funnel_events"] == 52


def test_duplicates_are_exact_copies_of_an_earlier_row_among_time_ties():
    rng = np.random.default_rng(3)
    rows = [
        (f"s{s}", f"u{s}", int(rng.integers(0, 4)), str(rng.choice(["view", "click", "buy"])),
         "browse", str(rng.choice(["st1", "st2"])))
        for s in range(40) for _ in range(8)
    ]  # fmt: skip
    rows += [rows[i] for i in rng.choice(len(rows), 60)]  # copies, far from their originals
    rows += [("s0", "u0", 1, "view", "browse", "st9"), ("s0", "u0", 1, "view", "browse", "st9")]
    events = make_events(rows)
    expected = int(events.duplicated(subset=[c for c in events.columns if c != "row_number"]).sum())
    data = sessions_of(events, mode="with_funnel")
    assert data.counts["dropped_rows"]["duplicate_rows"] == expected > 60
    # what stays is one row per distinct event, and each session is in time order
    kept = data.counts["rows_read"] - sum(data.counts["dropped_rows"].values())
    assert kept == len(data.events)
    for _, session in data.events.groupby("session_id", observed=True):
        assert session["timestamp"].is_monotonic_increasing
