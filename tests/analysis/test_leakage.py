"""The leakage probe: planted leaks are named with the right figures, clean logs stay clean."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.leakage import LeakFinding, detect_leaks, single_event_aucs
from eventlift.exceptions import ConfigError, MissingColumnError

N_CONVERTED, N_NOT = 100, 300


def _planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    """100 converted and 300 non-converted sessions with events of known presence counts.

    ``view`` is everywhere; ``click`` is in every other session of each class; ``checkout`` is
    in 90 converted and 6 non-converted (AUC 0.94); ``order_confirm`` in 98 converted and no
    other (AUC 0.99, looks like the conversion); ``coupon`` in 12 converted only (AUC 0.56);
    ``banner`` in 80 converted and 30 non-converted (AUC 0.85).
    """
    converted = np.r_[np.ones(N_CONVERTED, bool), np.zeros(N_NOT, bool)]
    ids = [f"s{index:03d}" for index in range(len(converted))]
    not_ids = ids[N_CONVERTED:]
    present = {
        "view": ids,
        "click": ids[:N_CONVERTED:2] + not_ids[::2],
        "checkout": ids[:90] + not_ids[:6],
        "order_confirm": ids[:98],
        "coupon": ids[:12],
        "banner": ids[:80] + not_ids[:30],
    }
    rows = [(sid, event) for event, holders in present.items() for sid in holders]
    events = pd.DataFrame(rows, columns=["session_id", "event"])
    events = pd.concat([events, events.head(50)], ignore_index=True)  # repeats count once
    events["position"] = events.groupby("session_id").cumcount() + 1
    sessions = pd.DataFrame({"session_id": ids, "converted": converted, "split": "test"})
    return events, sessions


def test_single_event_aucs_counts_and_scores_every_event():
    events, sessions = _planted()
    table = single_event_aucs(events, sessions)
    assert list(table.columns) == ["event", "n_sessions", "n_converted", "auc"]
    assert table["event"].tolist() == [
        "order_confirm",
        "checkout",
        "banner",
        "coupon",
        "view",
        "click",
    ]
    by_event = table.set_index("event")
    assert by_event.loc["checkout", ["n_sessions", "n_converted"]].tolist() == [96, 90]
    assert by_event.loc["view", ["n_sessions", "n_converted"]].tolist() == [400, 100]
    assert by_event.loc["checkout", "auc"] == pytest.approx(0.94)
    assert by_event.loc["order_confirm", "auc"] == pytest.approx(0.99)
    assert by_event.loc["coupon", "auc"] == pytest.approx(0.56)
    assert by_event.loc["view", "auc"] == pytest.approx(0.5)


def test_presence_auc_matches_sklearn_in_both_directions():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    sessions = pd.DataFrame({"session_id": range(500), "converted": rng.random(500) < 0.3})
    events = pd.DataFrame(
        {"session_id": rng.integers(0, 500, 3000), "event": rng.choice(list("abcdefg"), 3000)}
    )
    table = single_event_aucs(events, sessions)
    labels = sessions["converted"].to_numpy()
    for row in table.itertuples():
        holders = events.loc[events["event"] == row.event, "session_id"].unique()
        presence = sessions["session_id"].isin(holders).to_numpy()
        expected = roc_auc_score(labels, presence)
        assert row.auc == pytest.approx(max(expected, 1 - expected))
    # a rarer-in-converted event scores by its absence: the table never shows AUC under 0.5
    assert (table["auc"] >= 0.5).all()


def test_planted_leaks_are_flagged_with_figures_and_fixes():
    events, sessions = _planted()
    findings = detect_leaks(events, sessions)
    assert [finding.event for finding in findings] == ["order_confirm", "checkout", "coupon"]
    conversion, checkout, coupon = findings

    assert checkout == LeakFinding(
        event="checkout",
        auc=pytest.approx(0.94),
        n_sessions=96,
        n_converted=90,
        only_in_converted=False,
        reason="present in 90 % of converted and 2 % of non-converted sessions (96 sessions); "
        "presence alone gives AUC 0.94",
        fix='add "checkout" to [sessions] funnel_events',
    )
    assert conversion.only_in_converted
    assert conversion.fix == 'add "order_confirm" to [sessions] conversion_events'
    assert conversion.reason.endswith("it looks like the conversion itself")
    assert "present in 98 % of converted and 0 % of non-converted" in conversion.reason
    assert coupon.only_in_converted
    assert coupon.auc == pytest.approx(0.56)
    assert coupon.fix == 'add "coupon" to [sessions] funnel_events'
    assert "never occurs in a non-converted session" in coupon.reason


def test_threshold_is_honoured():
    events, sessions = _planted()
    flagged = {finding.event for finding in detect_leaks(events, sessions, threshold=0.8)}
    assert flagged == {"order_confirm", "checkout", "banner", "coupon"}
    flagged = {finding.event for finding in detect_leaks(events, sessions, threshold=0.95)}
    assert flagged == {"order_confirm", "coupon"}


def test_one_outcome_rule_needs_min_sessions():
    events, sessions = _planted()
    flagged = {f.event for f in detect_leaks(events, sessions, threshold=0.99, min_sessions=12)}
    assert flagged == {"order_confirm", "coupon"}
    flagged = {f.event for f in detect_leaks(events, sessions, threshold=0.99, min_sessions=13)}
    assert flagged == {"order_confirm"}


def test_event_only_in_non_converted_sessions_is_flagged_when_not_chance():
    # With 25 % converted, 30 non-converted sessions agreeing by chance has probability
    # 0.75**30 = 2e-4 (flagged); 20 of them has 0.75**20 = 3e-3 (left alone).
    events, sessions = _planted()
    not_ids = sessions["session_id"].iloc[N_CONVERTED:]
    extra = pd.concat(
        [
            pd.DataFrame({"session_id": not_ids.iloc[:30], "event": "abandon"}),
            pd.DataFrame({"session_id": not_ids.iloc[:20], "event": "rare_tab"}),
        ]
    )
    findings = detect_leaks(pd.concat([events, extra]), sessions, threshold=0.95)
    by_event = {finding.event: finding for finding in findings}
    assert set(by_event) == {"order_confirm", "coupon", "abandon"}
    abandon = by_event["abandon"]
    assert not abandon.only_in_converted
    assert abandon.n_converted == 0
    assert abandon.auc == pytest.approx(0.55)
    assert "never occurs in a converted session" in abandon.reason
    assert abandon.fix == 'add "abandon" to [sessions] funnel_events'


def test_clean_log_flags_nothing():
    # 3000 sessions, 15 % converted, 60 events of very different frequency, all unrelated to
    # the label: rare events land in one class by chance and must not be called leaks.
    rng = np.random.default_rng(11)
    n_sessions = 3000
    sessions = pd.DataFrame(
        {"session_id": range(n_sessions), "converted": rng.random(n_sessions) < 0.15}
    )
    weights = 1.0 / np.arange(1, 61) ** 2.0
    events = pd.DataFrame(
        {
            "session_id": rng.integers(0, n_sessions, 40_000),
            "event": rng.choice([f"e{i}" for i in range(60)], 40_000, p=weights / weights.sum()),
        }
    )
    table = single_event_aucs(events, sessions)
    # this draw holds an event in 18 sessions, none converted: chance, not a leak (0.85**18=0.05)
    one_outcome = table[(table["n_converted"] == 0) & (table["n_sessions"] >= 10)]
    assert one_outcome["n_sessions"].tolist() == [18]
    assert detect_leaks(events, sessions) == []


def test_only_the_given_sessions_count():
    events, sessions = _planted()
    subset = sessions.iloc[::2]  # 50 converted, 150 not
    table = single_event_aucs(events, subset).set_index("event")
    assert table.loc["view", "n_sessions"] == 200
    assert table.loc["checkout", ["n_sessions", "n_converted"]].tolist() == [48, 45]


def test_single_outcome_gives_nan_and_no_findings():
    events, sessions = _planted()
    only_converted = sessions.iloc[:N_CONVERTED]
    assert single_event_aucs(events, only_converted)["auc"].isna().all()
    assert detect_leaks(events, only_converted) == []


def test_to_dict_is_json_ready():
    events, sessions = _planted()
    finding = detect_leaks(events, sessions)[1].to_dict()
    assert finding["event"] == "checkout"
    assert finding["n_sessions"] == 96
    assert set(finding) == {
        "event",
        "auc",
        "n_sessions",
        "n_converted",
        "only_in_converted",
        "reason",
        "fix",
        "rules",
    }
    assert finding["rules"] == ["presence"]
    assert not math.isnan(finding["auc"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, r"threshold must be a presence AUC between 0.5 and 1; got 1.5"),
        ({"threshold": 0.3}, r"got 0.3"),
        ({"min_sessions": 0}, r"min_sessions must be a positive number of sessions; got 0"),
    ],
    ids=["threshold-high", "threshold-low", "min-sessions"],
)
def test_bad_settings_are_config_errors(kwargs, message):
    events, sessions = _planted()
    with pytest.raises(ConfigError, match=message):
        detect_leaks(events, sessions, **kwargs)


def test_missing_column_is_named():
    events, sessions = _planted()
    with pytest.raises(MissingColumnError, match=r"events frame lacks column\(s\) \['event'\]"):
        single_event_aucs(events.drop(columns="event"), sessions)


def test_events_without_a_name_are_ignored():
    events, sessions = _planted()
    unnamed = pd.DataFrame({"session_id": sessions["session_id"].iloc[:5], "event": None})
    table = single_event_aucs(pd.concat([events, unnamed], ignore_index=True), sessions)
    assert len(table) == 6
    assert table["event"].notna().all()
