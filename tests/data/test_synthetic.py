"""The synthetic log: its shape, its planted truth, and its tuning targets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from eventlift.data.synthetic import (
    CONVERSION_EVENT,
    FUNNEL_EVENTS,
    VARIANTS,
    GroundTruth,
    SyntheticSpec,
    generate_events,
)
from eventlift.exceptions import ConfigError, LabelError

EVENT_COLUMNS = [
    "session_id",
    "user_id",
    "timestamp",
    "event",
    "event_category",
    "store_id",
    "store_name",
]


@pytest.fixture(scope="module")
def default_log() -> tuple[pd.DataFrame, GroundTruth]:
    return generate_events()


@pytest.fixture(scope="module")
def small_log() -> tuple[pd.DataFrame, GroundTruth]:
    return generate_events(n_sessions=2_000, seed=7)


def _pre_conversion(events: pd.DataFrame) -> pd.DataFrame:
    """Events strictly before each session's first conversion (all events if it never converts)."""
    step = events.groupby("session_id").cumcount()
    first = (
        step.where(events["event"] == CONVERSION_EVENT)
        .groupby(events["session_id"])
        .transform("min")
    )
    return events[first.isna() | (step < first)]


def _presence_auc(events: pd.DataFrame, truth: GroundTruth) -> dict[str, float]:
    """max(AUC, 1 - AUC) of "the session holds this event" against the label, per event."""
    from sklearn.metrics import roc_auc_score

    labels = truth.sessions.set_index("session_id")["converted"]
    present = pd.crosstab(events["session_id"], events["event"]).reindex(labels.index).fillna(0) > 0
    aucs = {}
    for event in present.columns:
        auc = roc_auc_score(labels, present[event])
        aucs[event] = max(auc, 1.0 - auc)
    return aucs


def _share_lifts(truth: GroundTruth, by: str | pd.Series, per_session: bool) -> pd.Series:
    """Lift of normalised true contributions, |c_i| / sum_j |c_j| over the first 50 events.

    As in the product's tables: with ``per_session`` each side's mean is the share of session
    attribution a group takes (0 where absent), otherwise the mean over the group's events.
    """
    c = truth.contributions[truth.contributions["position"] <= 50].copy()
    c["abs"] = c["contribution"].abs()
    total = c.groupby("session_id")["abs"].transform("sum")
    size = c.groupby("session_id")["abs"].transform("size")
    c["share"] = np.where(total > 0, c["abs"] / total.where(total > 0, 1.0), 1.0 / size)
    labels = truth.sessions.set_index("session_id")["converted"]
    c["converted"] = c["session_id"].map(labels)
    key = c[by] if isinstance(by, str) else by.loc[c.index]
    if per_session:
        shares = c.groupby(["session_id", key], observed=True)["share"].sum().unstack(fill_value=0)
        means = shares.groupby(labels.reindex(shares.index)).mean().T
    else:
        means = c.groupby([key, "converted"], observed=True)["share"].mean().unstack()
    return (means[True] - means[False]).dropna()


def test_default_log_converts_realistically(default_log):
    _, truth = default_log
    assert len(truth.sessions) == 30_000
    assert 0.10 <= truth.sessions["converted"].mean() <= 0.20
    assert 0.70 <= truth.oracle_auc() <= 0.75


def test_funnel_events_leak_and_browsing_events_do_not(default_log):
    events, truth = default_log
    aucs = _presence_auc(_pre_conversion(events), truth)
    for event in FUNNEL_EVENTS:
        assert aucs[event] > 0.9, event
    browsing = {e: a for e, a in aucs.items() if e not in FUNNEL_EVENTS}
    assert len(browsing) == 12
    assert max(browsing.values()) < 0.8


def test_share_lifts_recover_planted_event_effects(default_log):
    _, truth = default_log
    lifts = _share_lifts(truth, "event", per_session=True)
    planted = pd.Series(truth.event_effects)[lifts.index]
    assert len(lifts) == 12
    assert spearmanr(lifts, planted).statistic >= 0.9


def test_share_lifts_favour_early_positions(default_log):
    _, truth = default_log
    positions = truth.contributions["position"]
    buckets = pd.cut(positions, [0, 5, 10, 20, 50], labels=["1-5", "6-10", "11-20", "21-50"])
    lifts = _share_lifts(truth, buckets, per_session=True)
    assert lifts.idxmax() == "1-5"


def test_share_lifts_put_the_best_store_in_the_top_five(default_log):
    _, truth = default_log
    c = truth.contributions.dropna(subset=["store_id"])
    converted = c["session_id"].map(truth.sessions.set_index("session_id")["converted"])
    support = pd.crosstab(c["store_id"], converted)
    supported = support[(support[True] >= 20) & (support[False] >= 20)].index
    lifts = (
        _share_lifts(truth, "store_id", per_session=False)
        .reindex(supported)
        .sort_values(ascending=False)
    )
    assert truth.best_store in lifts.index[:5]
    assert truth.store_effects[truth.best_store] == max(truth.store_effects.values())


def test_same_spec_gives_identical_frames_and_other_seeds_differ(small_log):
    events, truth = small_log
    again_events, again_truth = generate_events(SyntheticSpec(n_sessions=2_000, seed=7))
    pd.testing.assert_frame_equal(events, again_events)
    pd.testing.assert_frame_equal(truth.sessions, again_truth.sessions)
    pd.testing.assert_frame_equal(truth.contributions, again_truth.contributions)
    other, _ = generate_events(n_sessions=2_000, seed=8)
    assert not other["event"].head(200).equals(events["event"].head(200))


def test_events_frame_follows_the_contract(small_log):
    events, truth = small_log
    assert list(events.columns) == EVENT_COLUMNS
    assert events["timestamp"].dtype == "datetime64[us]"
    assert events["session_id"].str.fullmatch(r"s\d{6}").all()
    assert events["user_id"].str.fullmatch(r"u\d{5}").all()
    assert events["store_id"].dropna().str.fullmatch(r"st\d{3}").all()
    assert events["session_id"].nunique() == 2_000
    ordered = events.sort_values(["user_id", "timestamp"], kind="stable")
    assert ordered.index.equals(events.index)
    assert events["store_id"].isna().equals(events["store_name"].isna())
    names = events.dropna(subset=["store_id"]).drop_duplicates("store_id")
    assert (names["store_name"] == names["store_id"].map(truth.store_names)).all()
    categories = events.drop_duplicates("event").set_index("event")["event_category"]
    assert categories.to_dict() == {e: truth.event_categories[e] for e in categories.index}
    assert set(categories[categories == "funnel"].index) == set(FUNNEL_EVENTS)
    storeless = {"home_page_load", "tab_switch", "search_submit", "app_background"}
    assert events.loc[events["event"].isin(storeless), "store_id"].isna().all()


def test_inactivity_sessionisation_reproduces_session_ids(small_log):
    events, _ = small_log
    gap = events["timestamp"].diff()
    new_user = events["user_id"] != events["user_id"].shift()
    derived_start = new_user | (gap > pd.Timedelta(minutes=30))
    assert derived_start.equals(events["session_id"] != events["session_id"].shift())
    within = events.groupby("session_id")["timestamp"].diff().dropna()
    assert (within > pd.Timedelta(0)).all()
    assert within.max() <= pd.Timedelta(minutes=20)
    assert events.groupby("user_id")["session_id"].nunique().mean() == pytest.approx(3.0, abs=0.3)


def test_funnel_steps_close_the_session_and_orders_only_in_converted_sessions(small_log):
    events, truth = small_log
    converted = truth.sessions.set_index("session_id")["converted"]
    orders = events[events["event"] == CONVERSION_EVENT].groupby("session_id").size()
    assert orders.max() == 1
    assert set(orders.index) == set(converted[converted].index)
    pre = _pre_conversion(events)
    step = pre.groupby("session_id").cumcount()
    is_funnel = pre["event"].isin(FUNNEL_EVENTS)
    first_funnel = step.where(is_funnel).groupby(pre["session_id"]).min()
    last_browse = step.where(~is_funnel).groupby(pre["session_id"]).max()
    assert (first_funnel.dropna() > last_browse[first_funnel.dropna().index]).all()
    after = len(events) - len(pre) - len(orders)
    assert after > 0  # post-conversion events exist and must be dropped by the pipeline


def test_contributions_match_the_browsing_events_and_the_planted_formula(small_log):
    events, truth = small_log
    pre = _pre_conversion(events)
    browsing = pre[~pre["event"].isin(FUNNEL_EVENTS)].reset_index(drop=True)
    c = truth.contributions
    assert c["session_id"].equals(browsing["session_id"])
    assert c["event"].equals(browsing["event"])
    assert c["store_id"].equals(browsing["store_id"])
    assert (c["position"] == browsing.groupby("session_id").cumcount() + 1).all()

    bonus = np.zeros(len(c), dtype=bool)
    for lag in range(1, truth.order_window + 1):
        bonus |= (
            (c["session_id"].shift(lag) == c["session_id"])
            & (c["event"].shift(lag) == "m_card_click")
            & (c["store_id"].shift(lag) == c["store_id"])
            & (c["event"] == "store_page_load")
        ).to_numpy()
    assert bonus.sum() > 100
    store = c["store_id"].map(truth.store_effects).fillna(0.0)
    planted = c["event"].map(truth.event_effects) + store + truth.order_effect * bonus
    expected = planted * c["position"].map(truth.position_effect) + truth.event_cost
    np.testing.assert_allclose(c["contribution"], expected, rtol=1e-12, atol=1e-12)

    logit = SyntheticSpec().base_logit + c.groupby("session_id")["contribution"].sum()
    probability = truth.sessions.set_index("session_id")["probability"]
    np.testing.assert_allclose(probability[logit.index], 1 / (1 + np.exp(-logit)), rtol=1e-12)


def test_position_effect_decays_from_one(small_log):
    _, truth = small_log
    curve = pd.Series(truth.position_effect)
    assert list(curve.index) == list(range(1, 61))
    assert curve[1] == 1.0
    assert curve.is_monotonic_decreasing and curve[60] > 0
    assert truth.event_effects["action_add_item"] == 0.0
    assert truth.event_effects[CONVERSION_EVENT] == 0.0


def test_oracle_auc_on_a_subset_matches_sklearn(small_log):
    from sklearn.metrics import roc_auc_score

    _, truth = small_log
    subset = truth.sessions.iloc[::3]
    expected = roc_auc_score(subset["converted"], subset["probability"])
    assert truth.oracle_auc(subset["session_id"]) == pytest.approx(expected)
    lonely = truth.sessions.loc[~truth.sessions["converted"], "session_id"].head(5)
    with pytest.raises(LabelError, match="only one class"):
        truth.oracle_auc(lonely)


def test_to_json_writes_the_truth_atomically(small_log, tmp_path):
    _, truth = small_log
    path = tmp_path / "data" / "ground_truth.json"
    truth.to_json(path, oracle_auc=0.7123)
    assert sorted(p.name for p in path.parent.iterdir()) == ["ground_truth.json"]
    payload = json.loads(path.read_text())
    assert payload["oracle_auc"] == 0.7123
    assert payload["funnel_events"] == list(FUNNEL_EVENTS)
    assert payload["conversion_event"] == CONVERSION_EVENT
    assert payload["event_effects"]["cart_page_load"]["funnel"] is True
    assert payload["event_effects"]["m_card_click"] == {
        "effect": 0.35,
        "category": "click",
        "funnel": False,
    }
    assert payload["position_effect"]["1"] == 1.0
    assert payload["store_effects"][truth.best_store] == truth.store_effects[truth.best_store]
    assert payload["best_store"] == truth.best_store
    assert payload["order_effect"] == truth.order_effect
    truth.to_json(path)
    assert json.loads(path.read_text())["oracle_auc"] == pytest.approx(truth.oracle_auc())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_sesions": 10}, r"unknown option\(s\) \['n_sesions'\]"),
        ({"n_sessions": 0}, r"n_sessions must be >= 1, got 0"),
        ({"p_cart": 1.5}, r"p_cart is a probability in \[0, 1\], got 1.5"),
        ({"min_length": 10, "max_length": 5}, r"max_length \(5\) must be >= min_length \(10\)"),
        ({"max_gap_seconds": 3600}, r"30-min inactivity rule"),
        ({"best_store_rank": 41}, r"best_store_rank=41"),
        ({"start": "not a date"}, r"start must be a date"),
    ],
    ids=["unknown", "sessions", "probability", "lengths", "gap", "best-rank", "start"],
)
def test_bad_options_raise_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        generate_events(**kwargs)


def test_a_tiny_log_still_generates():
    events, truth = generate_events(
        n_sessions=1, n_stores=20, strong_store_max_rank=10, best_store_rank=3, seed=3
    )
    assert events["session_id"].unique().tolist() == ["s000000"]
    assert len(truth.sessions) == 1
    assert len(truth.store_effects) == 20


FEW = ("m_card_view", "m_card_click", "store_page_load")


def test_a_restricted_vocabulary_keeps_only_those_browsing_events():
    events, truth = generate_events(n_sessions=1_500, seed=4, browse_events=FEW)
    allowed = {*FEW, *FUNNEL_EVENTS, CONVERSION_EVENT}
    assert set(events["event"]) == allowed  # post-order events too
    assert set(truth.contributions["event"]) == set(FEW)
    assert set(truth.event_effects) == allowed
    assert set(truth.event_categories) == allowed
    assert truth.event_effects["store_page_load"] == 0.45


def test_the_full_vocabulary_named_explicitly_gives_the_default_log(small_log):
    events, truth = small_log
    names = tuple(truth.event_effects)[:12]
    again, again_truth = generate_events(n_sessions=2_000, seed=7, browse_events=names)
    pd.testing.assert_frame_equal(events, again)
    pd.testing.assert_frame_equal(truth.contributions, again_truth.contributions)


def test_a_log_without_stores_has_no_store_columns_and_plants_nothing_on_stores(small_log):
    _, with_stores = small_log
    events, truth = generate_events(n_sessions=2_000, seed=7, with_stores=False)
    assert list(events.columns) == [c for c in EVENT_COLUMNS if not c.startswith("store")]
    assert (truth.store_effects, truth.store_names, truth.best_store) == ({}, {}, "")
    c = truth.contributions
    assert c["store_id"].isna().all()
    assert c["event"].equals(with_stores.contributions["event"])  # same walk, same draws
    expected = c["event"].map(truth.event_effects) * c["position"].map(truth.position_effect)
    np.testing.assert_allclose(c["contribution"], expected + truth.event_cost, rtol=1e-12)


@pytest.mark.parametrize(
    ("browse_events", "message"),
    [
        (("m_card_view", "page_view"), r"unknown event\(s\) \['page_view'\]"),
        (("m_card_click", "item_detail_view"), r"no event a session can start with"),
        (("m_banner_view", "m_banner_click"), r"after 'm_banner_click' the chain can only move"),
    ],
    ids=["unknown", "no-start", "dead-end"],
)
def test_bad_vocabularies_raise_config_errors(browse_events, message):
    with pytest.raises(ConfigError, match=message):
        generate_events(n_sessions=10, browse_events=browse_events)


def _shape(name: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    events, truth = generate_events(n_sessions=4_000, seed=1, **VARIANTS[name])
    converted = truth.sessions.set_index("session_id")["converted"]
    lengths = truth.contributions.groupby("session_id").size()
    return events, converted, lengths


def test_the_variants_have_the_shapes_they_are_named_for():
    assert set(VARIANTS) == {
        "short_sessions", "few_event_types", "one_event_type", "rare_conversions", "partial_funnel",
        "strong_store_effects", "strong_order_effects", "no_stores",
    }  # fmt: skip
    _, _, lengths = _shape("short_sessions")
    assert (lengths <= 2).mean() > 0.75
    events, _, _ = _shape("few_event_types")
    assert events["event"].nunique() == 3 + len(FUNNEL_EVENTS) + 1
    events, _, _ = _shape("one_event_type")
    assert events["event"].nunique() == 1 + len(FUNNEL_EVENTS) + 1
    _, converted, _ = _shape("rare_conversions")
    assert 0.01 < converted.mean() < 0.035
    events, converted, _ = _shape("partial_funnel")
    for step in FUNNEL_EVENTS:
        present = converted.index.isin(events.loc[events["event"] == step, "session_id"])
        assert 0.85 <= present[converted.to_numpy()].mean() <= 0.95, step
        assert 0.03 <= present[~converted.to_numpy()].mean() <= 0.15, step
    events, _, _ = _shape("no_stores")
    assert "store_id" not in events.columns
