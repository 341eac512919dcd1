"""Recovery of planted causes, scored on tiny hand-made tables and truths with exact answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from eventlift.analysis.recovery import (
    contribution_correlation,
    event_spearman,
    recovery_scores,
    sign_agreement,
)
from eventlift.data.synthetic import GroundTruth
from eventlift.exceptions import DataError, EmptyInputError, MissingColumnError

EFFECTS = {"a": -0.5, "b": 0.1, "c": 0.3, "d": 0.9, "cart": 0.0, "order": 0.0}
STORE_EFFECTS = {"s1": 2.0, "s2": 0.8, "s3": 0.6, "s4": 0.4, "s5": 0.2, "s6": 0.0, "s7": -0.4}


def make_truth(contributions: list[tuple] | None = None) -> GroundTruth:
    """A truth with four browsing events, one funnel event and seven stores (s1 the best)."""
    rows = contributions or [("x", 1, "a", None, 0.1)]
    return GroundTruth(
        event_effects=EFFECTS,
        event_categories=dict.fromkeys(EFFECTS, "browse"),
        funnel_events=["cart"],
        conversion_event="order",
        position_effect={1: 1.0},
        store_effects=STORE_EFFECTS,
        store_names={store: store.upper() for store in STORE_EFFECTS},
        best_store="s1",
        order_effect=1.0,
        order_window=3,
        event_cost=0.0,
        sessions=pd.DataFrame(columns=["session_id", "user_id", "probability", "converted"]),
        contributions=pd.DataFrame(
            rows, columns=["session_id", "position", "event", "store_id", "contribution"]
        ),
    )


def make_tables(store_lifts: dict[str, float], low_support: tuple[str, ...] = ()) -> dict:
    """Event-type lifts in the planted order (funnel event on top), and the given store lifts."""
    events = pd.DataFrame(
        {
            "event": ["cart", "d", "c", "b", "a"],
            "lift": [0.5, 0.3, 0.2, 0.1, -0.1],
            "attr_signed_mean": [0.9, 0.2, 0.05, -0.2, -0.3],
            "attr_signed_ci_low": [0.8, 0.1, -0.05, -0.3, -0.4],
            "attr_signed_ci_high": [1.0, 0.3, 0.2, -0.1, -0.2],
        }
    )
    stores = pd.DataFrame(
        {
            "store_id": list(store_lifts),
            "lift": list(store_lifts.values()),
            "n_events": 500,
            "low_support": [store in low_support for store in store_lifts],
        }
    ).sort_values("lift", ascending=False)
    positions = pd.DataFrame({"position_bucket": ["1-5", "6-10"], "lift": [0.02, 0.05]})
    return {"event_type": events, "store": stores, "position": positions}


def test_recovery_scores_rank_the_best_store_and_count_the_top_five_overlap():
    # By lift: s7 s1 s6 s2 s5 | s4 s3; planted top five: s1 s2 s3 s4 s5 -> s1, s2, s5 shared.
    lifts = {"s7": 0.9, "s1": 0.8, "s6": 0.7, "s2": 0.6, "s5": 0.5, "s4": 0.4, "s3": 0.3}
    scores = recovery_scores(make_tables(lifts), make_truth())
    assert scores["event_spearman"] == pytest.approx(1.0)
    assert scores["best_store_rank"] == 2
    assert scores["supported_stores"] == 7
    assert scores["store_top5_overlap"] == pytest.approx(3 / 5)
    assert scores["top_position_bucket"] == "6-10"
    assert scores["top_events"] == ["cart", "d", "c", "b", "a"]


def test_store_overlap_ignores_stores_without_support():
    # s1 and s2 lack support; among s3..s7 the planted top five are all five stores.
    lifts = {"s1": 0.9, "s2": 0.8, "s7": 0.7, "s6": 0.6, "s5": 0.5, "s4": 0.4, "s3": 0.3}
    scores = recovery_scores(make_tables(lifts, low_support=("s1", "s2")), make_truth())
    assert scores["best_store_rank"] is None
    assert scores["store_top5_overlap"] == pytest.approx(1.0)


def test_store_overlap_compares_all_stores_when_fewer_than_five_are_supported():
    lifts = {"s7": 0.9, "s6": 0.8, "s1": 0.7, "s2": 0.6}  # planted top 4 = all of them
    assert recovery_scores(make_tables(lifts), make_truth())["store_top5_overlap"] == 1.0
    unsupported = make_tables(lifts, low_support=tuple(lifts))
    assert math.isnan(recovery_scores(unsupported, make_truth())["store_top5_overlap"])


def test_event_spearman_ignores_funnel_events_and_needs_three_types():
    truth = make_truth()
    assert event_spearman({"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0, "cart": 9.0}, truth) == (
        pytest.approx(-1.0)
    )
    assert event_spearman(pd.Series({"a": 1.0, "b": 2.0, "d": 3.0}), truth) == pytest.approx(1.0)
    assert math.isnan(event_spearman({"a": 1.0, "b": 2.0, "d": math.nan}, truth))


def event_level(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["session_id", "position", "event", "attribution_raw", "split"]
    )


CONTRIBUTIONS = [
    # session p: scores are 2 * contribution + 1 -> r = 1
    ("p", 1, "a", None, 0.1), ("p", 2, "b", None, 0.2), ("p", 3, "c", None, 0.4),
    # session q: scores 1, 2, 3 against contributions 1, 3, 2 -> r = 0.5
    ("q", 1, "a", None, 1.0), ("q", 2, "a", None, 3.0), ("q", 3, "b", None, 2.0),
    # session r: two events only; session s: constant scores; session t: another split
    ("r", 1, "a", None, 1.0), ("r", 2, "b", None, 2.0),
    ("s", 1, "a", None, 1.0), ("s", 2, "b", None, 2.0), ("s", 3, "c", None, 3.0),
    ("t", 1, "a", None, 1.0), ("t", 2, "b", None, 2.0), ("t", 3, "c", None, 3.0),
]  # fmt: skip
SCORES = [
    ("p", 1, "a", 1.2, "test"), ("p", 2, "b", 1.4, "test"), ("p", 3, "c", 1.8, "test"),
    ("q", 1, "a", 1.0, "test"), ("q", 2, "a", 2.0, "test"), ("q", 3, "b", 3.0, "test"),
    ("r", 1, "a", 1.0, "test"), ("r", 2, "b", 2.0, "test"),
    ("s", 1, "a", 0.5, "test"), ("s", 2, "b", 0.5, "test"), ("s", 3, "c", 0.5, "test"),
    ("t", 1, "a", 3.0, "train"), ("t", 2, "b", 2.0, "train"), ("t", 3, "c", 1.0, "train"),
]  # fmt: skip


def test_contribution_correlation_averages_pearson_over_qualifying_sessions():
    truth = make_truth(CONTRIBUTIONS)
    # p (r = 1) and q (r = 0.5) qualify: r has two events, s constant scores, t is train.
    assert contribution_correlation(event_level(SCORES), truth) == pytest.approx(0.75)
    assert contribution_correlation(event_level(SCORES), truth, split="train") == pytest.approx(-1)


def test_contribution_correlation_drops_events_without_a_planted_contribution():
    extra = [*SCORES, ("p", 4, "cart", 99.0, "test"), ("q", 4, "order", -50.0, "test")]
    truth = make_truth(CONTRIBUTIONS)
    assert contribution_correlation(event_level(extra), truth) == pytest.approx(0.75)


def test_contribution_correlation_is_nan_when_no_session_qualifies():
    rows = [row for row in SCORES if row[0] in ("r", "s")]
    assert math.isnan(contribution_correlation(event_level(rows), make_truth(CONTRIBUTIONS)))


def test_contribution_correlation_rejects_shifted_positions():
    shifted = [(s, p, "cart" if (s, p) == ("q", 2) else e, v, sp) for s, p, e, v, sp in SCORES]
    with pytest.raises(
        DataError, match=r"(?s)1 event\(s\) differ.*no_funnel.*session_id='q', position=2"
    ):
        contribution_correlation(event_level(shifted), make_truth(CONTRIBUTIONS))


def test_contribution_correlation_names_the_split_and_the_missing_column():
    truth = make_truth(CONTRIBUTIONS)
    with pytest.raises(EmptyInputError, match=r"split 'validation'.*\['test', 'train'\]"):
        contribution_correlation(event_level(SCORES), truth, split="validation")
    with pytest.raises(MissingColumnError, match=r"lacks column\(s\) \['split'\]"):
        contribution_correlation(event_level(SCORES).drop(columns="split"), truth)


def test_sign_agreement_needs_the_interval_on_the_planted_side():
    # d and a: intervals on the planted side; c straddles zero; b points the wrong way. The funnel
    # event is not checked, nor is an effect below the threshold.
    truth = make_truth(
        [("x", 1, "a", None, -0.4), ("x", 2, "d", None, 0.8), ("y", 1, "d", None, 0.6)]
    )
    signs = sign_agreement(make_tables({"s1": 0.1})["event_type"], truth)
    assert signs["event"].tolist() == ["a", "b", "c", "d"]
    assert signs["agrees"].tolist() == [True, False, False, True]
    assert signs.set_index("event").loc["d", "mean_contribution"] == pytest.approx(0.7)
    assert math.isnan(signs.set_index("event").loc["b", "mean_contribution"])
    assert sign_agreement(make_tables({"s1": 0.1})["event_type"], truth, min_effect=0.2)[
        "event"
    ].tolist() == ["a", "c", "d"]
    scores = recovery_scores(make_tables({"s1": 0.1}), truth)
    assert (scores["signs_agree"], scores["signs_checked"]) == (2, 4)
    assert scores["sign_exceptions"] == ["b", "c"]


def test_sign_agreement_without_intervals_is_an_error():
    table = make_tables({"s1": 0.1})["event_type"].drop(columns="attr_signed_ci_low")
    with pytest.raises(MissingColumnError, match="attr_signed_ci_low"):
        sign_agreement(table, make_truth())
