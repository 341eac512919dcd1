"""Known-answer tests for the attribution tables and their bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.bootstrap import SessionBootstrap
from eventlift.analysis.tables import attribution_tables, position_bucket_labels
from eventlift.exceptions import ConfigError, DataError, MissingColumnError

NAN = float("nan")


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """Event-level frame from (session, converted, event, store_id, store_name, attr, raw) rows."""
    frame = pd.DataFrame(
        rows,
        columns=["session_id", "converted", "event", "store_id", "store_name", "attribution",
                 "attribution_raw"],
    )  # fmt: skip
    frame["position"] = frame.groupby("session_id").cumcount() + 1
    frame["session_length"] = frame.groupby("session_id")["event"].transform("size")
    frame["event_category"] = frame["event"].map({"click": "click", "view": "impression"})
    frame["timestamp"] = pd.Timestamp("2026-01-01")
    frame["predicted_probability"] = 0.5
    frame["split"] = "test"
    return frame


# Four sessions: A and B converted, C and D not. Lifts below are worked out by hand.
TINY = _frame(
    [
        ("A", True, "click", "s1", "Alpha", 0.75, 1.0),
        ("A", True, "view", None, None, 0.25, -0.5),
        ("B", True, "view", "s1", None, 0.5, 0.2),
        ("B", True, "click", "s2", "Beta", 0.25, 0.1),
        ("B", True, "view", "s2", "Beta", 0.25, -0.1),
        ("C", False, "view", "s2", "Beta", 0.6, 0.3),
        ("C", False, "click", "s1", None, 0.4, -0.2),
        ("D", False, "search", "s3", None, 1.0, 0.4),
    ]
)


def _tiny_tables(**kwargs) -> dict[str, pd.DataFrame]:
    options = {"position_buckets": (1, 2, 4), "min_support": 1, "bootstrap": 0, **kwargs}
    return attribution_tables(TINY, **options)


def _approx(values) -> object:
    return pytest.approx(list(values), rel=1e-12, abs=1e-12, nan_ok=True)


def test_position_bucket_labels_default_and_single_positions():
    assert position_bucket_labels((1, 6, 11, 21, 51)) == ["1-5", "6-10", "11-20", "21-50", "51+"]
    assert position_bucket_labels([1, 2, 4]) == ["1", "2-3", "4+"]


@pytest.mark.parametrize("edges", [(), (2, 6), (1, 6, 6), (1, 11, 6)], ids=str)
def test_position_bucket_labels_rejects_bad_edges(edges):
    with pytest.raises(ConfigError, match="position_buckets must be strictly increasing"):
        position_bucket_labels(edges)


def test_event_type_table_known_answers():
    table = _tiny_tables()["event_type"]
    assert list(table.columns[:10]) == [
        "event", "n_events", "n_sessions", "attr_converted", "attr_not_converted", "lift",
        "lift_ci_low", "lift_ci_high", "lift_length_adjusted", "low_support",
    ]  # fmt: skip
    assert {"event_category", "attr_signed_mean"} <= set(table.columns)
    assert table["event"].tolist() == ["click", "view", "search"]  # by lift, NaN last
    assert table["n_events"].tolist() == [3, 4, 1]
    assert table["n_sessions"].tolist() == [3, 3, 1]
    # shares of session attribution: sums over each side's sessions / its 2 sessions
    assert table["attr_converted"].tolist() == _approx([0.5, 0.5, 0.0])
    assert table["attr_not_converted"].tolist() == _approx([0.2, 0.3, 0.5])
    assert table["lift"].tolist() == _approx([0.3, 0.2, -0.5])
    # attribution * session_length: click (1.5, 0.75 | 0.8), view (0.5, 1.5, 0.75 | 1.2).
    assert table["lift_length_adjusted"].tolist() == _approx([1.125 - 0.8, 2.75 / 3 - 1.2, NAN])
    assert table["attr_signed_mean"].tolist() == _approx([0.3, -0.1 / 4, 0.4])
    assert table["low_support"].tolist() == [False, False, True]
    assert table["event_category"].tolist()[:2] == ["click", "impression"]
    assert pd.isna(table["event_category"].iloc[2])
    assert table[["lift_ci_low", "lift_ci_high"]].isna().all().all()


def test_low_support_needs_both_sides():
    table = _tiny_tables(min_support=2)["event_type"]
    # click and view have two or three converted events but a single non-converted one.
    assert table["low_support"].tolist() == [True, True, True]
    assert table["n_events"].tolist() == [3, 4, 1]  # flagged rows are kept


def test_position_table_lists_every_bucket_in_order():
    table = _tiny_tables()["position"]
    assert list(table.columns[:9]) == [
        "position_bucket", "n_events", "attr_converted", "attr_not_converted", "lift",
        "lift_ci_low", "lift_ci_high", "lift_length_adjusted", "low_support",
    ]  # fmt: skip
    assert table["position_bucket"].tolist() == ["1", "2-3", "4+"]
    assert table["n_events"].tolist() == [4, 4, 0]
    assert table["n_sessions"].tolist() == [4, 3, 0]
    assert table["attr_converted"].tolist() == _approx([0.625, 0.375, NAN])
    assert table["attr_not_converted"].tolist() == _approx([0.8, 0.2, NAN])
    assert table["lift"].tolist() == _approx([-0.175, 0.175, NAN])
    assert table["lift_length_adjusted"].tolist() == _approx([1.5 - 1.1, 2 / 3 - 0.8, NAN])
    assert table["low_support"].tolist() == [False, False, True]


def test_default_buckets_keep_empty_ones():
    table = attribution_tables(TINY, bootstrap=0)["position"]
    assert table["position_bucket"].tolist() == ["1-5", "6-10", "11-20", "21-50", "51+"]
    assert table["n_events"].tolist() == [8, 0, 0, 0, 0]
    assert table["low_support"].all()


def test_store_table_known_answers():
    table = _tiny_tables()["store"]
    assert list(table.columns[:11]) == [
        "store_id", "store_name", "n_events", "n_sessions", "attr_converted",
        "attr_not_converted", "lift", "lift_ci_low", "lift_ci_high", "session_conversion_rate",
        "low_support",
    ]  # fmt: skip
    assert table["store_id"].tolist() == ["s1", "s2", "s3"]
    assert table["store_name"].tolist()[:2] == ["Alpha", "Beta"]
    assert pd.isna(table["store_name"].iloc[2])
    assert table["n_events"].tolist() == [3, 3, 1]  # the event without a store is left out
    assert table["n_sessions"].tolist() == [3, 2, 1]
    assert table["lift"].tolist() == _approx([0.625 - 0.4, 0.25 - 0.6, NAN])
    assert table["session_conversion_rate"].tolist() == _approx([2 / 3, 0.5, 0.0])
    assert table["attr_signed_mean"].tolist() == _approx([1.0 / 3, 0.1, 0.4])
    assert table["low_support"].tolist() == [False, False, True]


def test_event_position_table_sorted_by_position_then_lift():
    table = _tiny_tables()["event_position"]
    assert list(table.columns[:7]) == [
        "position", "event", "n_events", "attr_converted", "attr_not_converted", "lift",
        "low_support",
    ]  # fmt: skip
    assert list(zip(table["position"], table["event"], strict=True)) == [
        (1, "view"), (1, "click"), (1, "search"), (2, "click"), (2, "view"), (3, "view"),
    ]  # fmt: skip
    assert table["lift"].tolist() == _approx([-0.1, NAN, NAN, -0.15, NAN, NAN])
    assert table["n_events"].tolist() == [2, 1, 1, 2, 1, 1]


def test_event_position_matrix_long_format():
    table = _tiny_tables()["event_position_matrix"]
    assert list(table.columns) == [
        "event", "position_bucket", "n_events", "attr_mean", "attr_converted",
        "attr_not_converted", "lift",
    ]  # fmt: skip
    assert list(zip(table["event"], table["position_bucket"], strict=True)) == [
        ("click", "1"), ("click", "2-3"), ("search", "1"), ("view", "1"), ("view", "2-3"),
    ]  # fmt: skip
    assert table["n_events"].tolist() == [1, 2, 1, 2, 2]
    assert table["attr_mean"].tolist() == _approx([0.75, 0.325, 1.0, 0.55, 0.25])
    assert table["lift"].tolist() == _approx([NAN, -0.15, NAN, -0.1, NAN])


def test_session_length_is_counted_when_absent():
    with_length = _tiny_tables()["event_type"]
    without = attribution_tables(
        TINY.drop(columns="session_length"), position_buckets=(1, 2, 4), bootstrap=0
    )["event_type"]
    assert without["lift_length_adjusted"].tolist() == _approx(with_length["lift_length_adjusted"])


def test_stores_dimension_fills_names_and_adds_attributes():
    stores = pd.DataFrame(
        {
            "store_id": ["s3", "s1", "s9"],
            "store_name": ["Gamma", "Ignored", "Unused"],
            "vertical": ["grocery", "burgers", "pharmacy"],
        }
    )
    table = _tiny_tables(stores=stores)["store"]
    assert table["store_name"].tolist() == ["Alpha", "Beta", "Gamma"]  # event names win
    assert table["vertical"].tolist()[::2] == ["burgers", "grocery"]
    assert pd.isna(table["vertical"].iloc[1])  # s2 is not in the dimension
    assert len(table) == 3


def test_stores_dimension_matches_integer_ids():
    events = TINY.assign(store_id=TINY["store_id"].str.removeprefix("s"))
    stores = pd.DataFrame({"store_id": [1, 2, 3], "region": ["north", "south", "east"]})
    table = attribution_tables(events, bootstrap=0, min_support=1, stores=stores)["store"]
    assert table["region"].tolist() == ["north", "south", "east"]


@pytest.mark.parametrize(
    ("stores", "error", "match"),
    [
        (pd.DataFrame({"id": ["s1"]}), MissingColumnError, "lacks column 'store_id'"),
        (pd.DataFrame({"store_id": ["s1", "s1"]}), DataError, "repeats 1 store_id"),
        (pd.DataFrame({"store_id": ["s1"], "lift": [1.0]}), DataError, r"\['lift'\]"),
    ],
    ids=["no-key", "repeated-key", "clashing-column"],
)
def test_stores_dimension_errors(stores, error, match):
    with pytest.raises(error, match=match):
        _tiny_tables(stores=stores)


def test_missing_column_is_named():
    with pytest.raises(MissingColumnError, match=r"lacks column\(s\) \['attribution'\]"):
        attribution_tables(TINY.drop(columns="attribution"))


def test_session_labelled_both_ways_is_rejected():
    events = TINY.copy()
    events.loc[0, "converted"] = False
    with pytest.raises(DataError, match=r"1 session\(s\) with events labelled both"):
        attribution_tables(events)


def test_missing_attribution_is_rejected():
    events = TINY.copy()
    events.loc[3, "attribution"] = np.nan
    with pytest.raises(DataError, match=r"1 row\(s\) with a missing value"):
        attribution_tables(events)


def test_position_below_one_is_rejected():
    with pytest.raises(DataError, match="positions below 1"):
        attribution_tables(TINY.assign(position=TINY["position"] - 1))


@pytest.mark.parametrize("options", [{"bootstrap": -1}, {"min_support": -2}], ids=str)
def test_negative_settings_are_rejected(options):
    with pytest.raises(ConfigError, match="bootstrap and min_support must be >= 0"):
        attribution_tables(TINY, **options)


def test_empty_frame_gives_empty_tables_and_all_buckets():
    tables = attribution_tables(TINY.iloc[:0])
    assert len(tables["event_type"]) == len(tables["store"]) == 0
    assert len(tables["event_position"]) == len(tables["event_position_matrix"]) == 0
    assert tables["position"]["n_events"].tolist() == [0] * 5


def _random_frame(n_sessions: int, seed: int) -> pd.DataFrame:
    """Sessions of 4 events (hero, filler, null, null) with a planted effect on ``hero``.

    The two ``null`` events take a share drawn the same way whatever the label; ``hero`` takes a
    larger part of the rest in converted sessions, at the expense of ``filler``.
    """
    rng = np.random.default_rng(seed)
    converted = rng.random(n_sessions) < 0.4  # (S,)
    null = rng.uniform(0.05, 0.25, size=(n_sessions, 2))  # (S, 2)
    rest = 1.0 - null.sum(axis=1)  # (S,)
    hero = rest * np.where(
        converted, rng.uniform(0.5, 0.9, n_sessions), rng.uniform(0.2, 0.6, n_sessions)
    )
    shares = np.column_stack([hero, rest - hero, null])  # (S, 4)
    order = rng.permuted(np.tile(np.arange(4), (n_sessions, 1)), axis=1)  # (S, 4)
    names = np.array(["hero", "filler", "null", "null"])
    return pd.DataFrame(
        {
            "session_id": np.repeat([f"s{i}" for i in range(n_sessions)], 4),
            "position": np.tile(np.arange(1, 5), n_sessions),
            "event": names[order].ravel(),
            "store_id": rng.choice(["a", "b", "c"], size=4 * n_sessions),
            "attribution": np.take_along_axis(shares, order, axis=1).ravel(),
            "attribution_raw": rng.normal(size=4 * n_sessions),
            "converted": np.repeat(converted, 4),
        }
    )  # fmt: skip


def _ci_tables(events: pd.DataFrame, seed: int = 0) -> dict[str, pd.DataFrame]:
    return attribution_tables(events, bootstrap=200, seed=seed, min_support=20)


def test_intervals_contain_the_estimate_and_shrink_with_more_sessions():
    events = _random_frame(300, seed=1)
    tables = _ci_tables(events)
    for name in ("event_type", "position", "store"):
        table = tables[name].dropna(subset=["lift"])
        assert len(table) > 0
        # Sums in a different order may differ in the last bits (the 1-5 bucket's lift is 0).
        assert (table["lift_ci_low"] <= table["lift"] + 1e-12).all(), name
        assert (table["lift"] <= table["lift_ci_high"] + 1e-12).all(), name
    copies = [events.assign(session_id=events["session_id"] + f"-{k}") for k in range(4)]
    bigger = _ci_tables(pd.concat(copies, ignore_index=True))["event_type"].set_index("event")
    small = tables["event_type"].set_index("event")
    assert np.allclose(bigger["lift"], small.loc[bigger.index, "lift"])
    width = (small["lift_ci_high"] - small["lift_ci_low"]).loc[bigger.index]
    bigger_width = bigger["lift_ci_high"] - bigger["lift_ci_low"]
    assert (bigger_width < 0.75 * width).all()


def test_planted_effect_excludes_zero_and_null_event_includes_it():
    table = _ci_tables(_random_frame(300, seed=2))["event_type"].set_index("event")
    assert table.loc["hero", "lift_ci_low"] > 0
    assert table.loc["filler", "lift_ci_high"] < 0
    assert table.loc["null", "lift_ci_low"] < 0 < table.loc["null", "lift_ci_high"]
    assert table.index[0] == "hero"


def test_same_seed_same_tables_other_seed_other_intervals():
    events = _random_frame(120, seed=3)
    first, second, other = _ci_tables(events), _ci_tables(events), _ci_tables(events, seed=1)
    for name, table in first.items():
        pd.testing.assert_frame_equal(table, second[name])
    pd.testing.assert_series_equal(first["event_type"]["lift"], other["event_type"]["lift"])
    assert not np.allclose(first["event_type"]["lift_ci_low"], other["event_type"]["lift_ci_low"])


def test_tables_share_the_same_resamples():
    # One event type, one position bucket and one store hold the same events, so their intervals
    # coincide only when every table uses the same resamples.
    events = _random_frame(100, seed=4).assign(event="x", store_id="a")
    tables = _ci_tables(events)
    intervals = [
        tables[name][["lift_ci_low", "lift_ci_high"]].iloc[0].tolist()
        for name in ("event_type", "position", "store")
    ]
    assert intervals[0] == intervals[1] == intervals[2]
    assert not np.isnan(intervals[0]).any()


def test_interval_is_nan_when_most_resamples_lack_a_side():
    # 20 sessions; store "rare" sits in one converted and one non-converted session, so a
    # resample holds both sides less than half the time, while "pair" (two sessions per side)
    # mostly has both. Store lifts are means over the store's events.
    rows = []
    for index in range(20):
        converted = index % 2 == 0
        store = "rare" if index < 2 else "pair" if index < 6 else None
        rows += [(f"s{index}", converted, "view", store, None, 0.5, 0.0)]
        rows += [(f"s{index}", converted, "other", None, None, 0.5, 0.0)]
    events = _frame(rows)
    stored = events["store_id"].notna()
    events.loc[stored, "attribution"] = np.where(events.loc[stored, "converted"], 0.7, 0.3)
    table = attribution_tables(events, bootstrap=400, seed=0)["store"].set_index("store_id")
    assert table.loc["rare", "lift"] == pytest.approx(0.4)
    assert np.isnan(table.loc["rare", ["lift_ci_low", "lift_ci_high"]].astype(float)).all()
    assert table.loc["pair", "lift_ci_low"] == pytest.approx(0.4)
    assert table.loc["pair", "lift_ci_high"] == pytest.approx(0.4)


def test_signed_mean_interval_matches_a_direct_session_bootstrap():
    # hero pushes the logit up (+0.3 on average), filler down (-0.2), null not at all; the interval
    # must equal resampling whole sessions by hand with the same multiplicities.
    events = _random_frame(150, seed=5)
    shift = events["event"].map({"hero": 0.3, "filler": -0.2, "null": 0.0})
    events["attribution_raw"] = events["attribution_raw"] * 0.5 + shift
    table = attribution_tables(events, bootstrap=100, seed=7)["event_type"].set_index("event")
    assert table.loc["hero", "attr_signed_ci_low"] > 0
    assert table.loc["filler", "attr_signed_ci_high"] < 0
    assert table.loc["null", "attr_signed_ci_low"] < 0 < table.loc["null", "attr_signed_ci_high"]

    session, _ = pd.factorize(events["session_id"])
    session_converted = events.groupby(session)["converted"].first().to_numpy()
    boot = SessionBootstrap(session, session_converted, 100, 7)
    weights = np.vstack(list(boot.weight_blocks()))  # (B, S)
    for name in ("hero", "filler", "null"):
        chosen = (events["event"] == name).to_numpy()
        sums = np.bincount(session[chosen], events["attribution_raw"][chosen], len(weights[0]))
        counts = np.bincount(session[chosen], minlength=len(weights[0]))
        means = (weights @ sums) / (weights @ counts)  # (B,)
        low, high = np.percentile(means, [2.5, 97.5])
        assert table.loc[name, "attr_signed_ci_low"] == pytest.approx(low, rel=1e-9)
        assert table.loc[name, "attr_signed_ci_high"] == pytest.approx(high, rel=1e-9)
        assert low <= table.loc[name, "attr_signed_mean"] + 1e-12 <= high + 2e-12
