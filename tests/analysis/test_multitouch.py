"""Multi-touch credit: hand-computed rules, a hand-solved Markov chain, and an outside reference."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.multitouch import multitouch_credit, rank_agreement
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    LabelError,
    MissingColumnError,
)


def make_log(paths: dict[str, tuple[str, bool]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and sessions from ``{session: ("a>b>c", converted)}``; "" means no events."""
    rows = [
        (session, position, event)
        for session, (path, _) in paths.items()
        for position, event in enumerate(path.split(">") if path else [], start=1)
    ]
    events = pd.DataFrame(rows, columns=["session_id", "position", "event"])
    events["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(rows)), "s")
    sessions = pd.DataFrame(
        [(session, converted) for session, (_, converted) in paths.items()],
        columns=["session_id", "converted"],
    )
    return events, sessions


# Three converted paths (one with a repeated touch), one that did not convert, and a converted
# session whose events were all excluded: it must not count as a fourth conversion.
HAND_PATHS = {
    "s1": ("a>b>b>c", True),
    "s2": ("b", True),
    "s3": ("a>c", True),
    "s4": ("c>d", False),
    "s5": ("", True),
}


def hand_log() -> tuple[pd.DataFrame, pd.DataFrame]:
    """HAND_PATHS with rows shuffled and gaps in the positions, so only ``position`` orders them."""
    events, sessions = make_log(HAND_PATHS)
    events["position"] *= 10
    return events.sample(frac=1.0, random_state=3).reset_index(drop=True), sessions


def as_floats(shares: dict[str, Fraction]) -> list[float]:
    return [float(shares[event]) for event in "abcd"]


# Worked by hand; every column is summed credit over the three converted sessions, divided by 3.
# time_decay uses half_life_events=1: weights 1/8, 1/4, 1/2, 1 from the first touch of s1.
EXPECTED = {
    "first_touch": {"a": Fraction(2, 3), "b": Fraction(1, 3), "c": 0, "d": 0},
    "last_touch": {"a": 0, "b": Fraction(1, 3), "c": Fraction(2, 3), "d": 0},
    # s1: 1/4, 1/2, 1/4; s2: b 1; s3: 1/2, 1/2
    "linear": {"a": Fraction(1, 4), "b": Fraction(1, 2), "c": Fraction(1, 4), "d": 0},
    # s1: (1, 2 + 4, 8) / 15; s2: b 1; s3: (1, 2) / 3
    "time_decay": {"a": Fraction(2, 15), "b": Fraction(7, 15), "c": Fraction(2, 5), "d": 0},
    # s1: .4, .1 + .1, .4; s2: b 1; s3: .5, .5
    "position_based": {"a": Fraction(3, 10), "b": Fraction(2, 5), "c": Fraction(3, 10), "d": 0},
}


@pytest.mark.parametrize("column", list(EXPECTED))
def test_heuristic_credit_matches_hand_computation(column):
    events, sessions = hand_log()
    table = multitouch_credit(events, sessions, half_life_events=1.0)
    assert table["event"].tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(table[column], as_floats(EXPECTED[column]), rtol=0, atol=1e-12)


def test_output_columns_and_every_share_column_sums_to_one():
    events, sessions = hand_log()
    table = multitouch_credit(events, sessions)
    assert table.columns.tolist() == [
        "event",
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "markov_removal",
        "markov_removal_effect",
    ]
    shares = table.drop(columns=["event", "markov_removal_effect"]).sum()
    np.testing.assert_allclose(shares, 1.0, atol=1e-12)


def test_default_half_life_and_u_shape_parameter():
    events, sessions = make_log({"s1": ("a>b>c", True), "s2": ("c", False)})
    table = multitouch_credit(events, sessions, u_shape_ends=0.5).set_index("event")
    weights = 2.0 ** (-np.array([2, 1, 0]) / 5.0)  # default half-life of five events
    np.testing.assert_allclose(table["time_decay"], weights / weights.sum(), atol=1e-12)
    # Ends take half each, so the middle touch gets nothing.
    np.testing.assert_allclose(table["position_based"], [0.5, 0.0, 0.5], atol=1e-12)


def test_two_touch_session_splits_evenly_whatever_the_end_share():
    events, sessions = make_log({"s1": ("a>b", True)})
    table = multitouch_credit(events, sessions, u_shape_ends=0.1)
    np.testing.assert_allclose(table["position_based"], [0.5, 0.5], atol=1e-12)


def test_markov_removal_on_hand_solved_chain_with_a_cycle():
    # start->a 2/3, start->b 1/3; a->b, a->conv, a->null 1/3 each; b->a, b->null 1/2 each.
    # h_a = 1/3 + h_b/3, h_b = h_a/2  =>  h_a = 2/5, h_b = 1/5, P = 2/3 h_a + 1/3 h_b = 1/3.
    # Without a nothing converts (effect 1); without b, P = 2/3 * 1/3 = 2/9 (effect 1/3).
    events, sessions = make_log({"s1": ("a>b>a", True), "s2": ("b", False), "s3": ("a", False)})
    table = multitouch_credit(events, sessions)
    np.testing.assert_allclose(table["markov_removal_effect"], [1.0, 1 / 3], atol=1e-12)
    np.testing.assert_allclose(table["markov_removal"], [0.75, 0.25], atol=1e-12)


def test_markov_ignores_repeated_touches_that_the_rules_count():
    once = multitouch_credit(*make_log({"s1": ("a>b", True), "s2": ("a", False)}))
    twice = multitouch_credit(*make_log({"s1": ("a>a>b", True), "s2": ("a", False)}))
    # A self-transition only delays absorption, so the chain's answer cannot move...
    np.testing.assert_allclose(twice["markov_removal_effect"], once["markov_removal_effect"])
    np.testing.assert_allclose(once["markov_removal_effect"], [1.0, 1.0])
    # ...while the linear rule gives the repeated touch two of three thirds.
    np.testing.assert_allclose(twice["linear"], [2 / 3, 1 / 3], atol=1e-12)


def random_log(n_sessions: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paths of 1-6 touches over five event types; containing "c" raises the conversion rate."""
    rng = np.random.default_rng(seed)
    paths = {}
    for index in range(n_sessions):
        path = rng.choice(
            list("abcde"), size=int(rng.integers(1, 7)), p=[0.3, 0.25, 0.2, 0.15, 0.1]
        )
        paths[f"s{index}"] = (">".join(path), bool(rng.random() < 0.15 + 0.4 * ("c" in path)))
    return make_log(paths)


def removal_by_resolving(events: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, float]:
    """The definition, solved once per removed state, with the chain counted in plain Python."""
    converted = dict(zip(sessions["session_id"], sessions["converted"], strict=True))
    counts: dict[str, dict[str, int]] = {}
    for session, frame in events.sort_values("position").groupby("session_id"):
        path = ["(start)", *frame["event"], "(conversion)" if converted[session] else "(null)"]
        for source, target in itertools.pairwise(path):
            row = counts.setdefault(source, {})
            row[target] = row.get(target, 0) + 1
    types = sorted(set(counts) - {"(start)"})

    def conversion_probability(removed: str | None) -> float:
        states = ["(start)", *(t for t in types if t != removed)]
        index = {state: i for i, state in enumerate(states)}
        transient = np.zeros((len(states), len(states)))
        to_conversion = np.zeros(len(states))
        for source in states:
            total = sum(counts[source].values())
            for target, count in counts[source].items():
                if target == "(conversion)":
                    to_conversion[index[source]] = count / total
                elif target in index:
                    transient[index[source], index[target]] = count / total
        return np.linalg.solve(np.eye(len(states)) - transient, to_conversion)[0]

    full = conversion_probability(None)
    return {t: 1 - conversion_probability(t) / full for t in types}


def test_closed_form_removal_equals_solving_each_removed_chain():
    events, sessions = random_log(200, seed=5)
    table = multitouch_credit(events, sessions)
    expected = removal_by_resolving(events, sessions)
    np.testing.assert_allclose(
        table["markov_removal_effect"], [expected[t] for t in table["event"]], atol=1e-10
    )


def channel_attribution_paths(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Distinct ">"-joined paths with conversion and null counts, ChannelAttribution's input."""
    joined = events.sort_values("position").groupby("session_id")["event"].agg(">".join)
    frame = sessions.set_index("session_id").join(joined.rename("path"), how="inner")
    grouped = frame.groupby("path")["converted"].agg(["sum", "size"])
    return pd.DataFrame(
        {"path": grouped.index, "conv": grouped["sum"], "null": grouped["size"] - grouped["sum"]}
    ).reset_index(drop=True)


def test_removal_matches_channelattribution_transition_matrix_exactly():
    channel_attribution = pytest.importorskip("ChannelAttribution")
    events, sessions = random_log(300, seed=11)
    table = multitouch_credit(events, sessions).set_index("event")
    out = channel_attribution.transition_matrix(
        channel_attribution_paths(events, sessions),
        "path",
        "conv",
        var_null="null",
        order=1,
        flg_pro=False,
    )
    channels = out["channels"]
    name_of = dict(zip(channels["id_channel"].astype(str), channels["channel_name"], strict=True))
    states = ["(start)", *table.index]
    transient = np.zeros((len(states), len(states)))
    to_conversion = np.zeros(len(states))
    for row in out["transition_matrix"].itertuples():
        source = states.index(name_of.get(str(row.channel_from), row.channel_from))
        target = name_of.get(str(row.channel_to), row.channel_to)
        if target == "(conversion)":
            to_conversion[source] = row.transition_probability
        elif target != "(null)":
            transient[source, states.index(target)] = row.transition_probability

    def conversion_probability(removed: int | None) -> float:
        keep = [i for i in range(len(states)) if i != removed]
        solved = np.linalg.solve(
            np.eye(len(keep)) - transient[np.ix_(keep, keep)], to_conversion[keep]
        )
        return solved[0]

    full = conversion_probability(None)
    effects = [1 - conversion_probability(i) / full for i in range(1, len(states))]
    np.testing.assert_allclose(table["markov_removal_effect"], effects, atol=1e-10)


def test_removal_shares_match_channelattribution_simulation():
    channel_attribution = pytest.importorskip("ChannelAttribution")
    events, sessions = random_log(300, seed=11)
    table = multitouch_credit(events, sessions).set_index("event")
    # max_step well above the longest path: its default (the longest path) cuts simulated
    # journeys short and biases every removal effect down by a few hundredths.
    result = channel_attribution.markov_model(
        channel_attribution_paths(events, sessions),
        "path",
        "conv",
        var_null="null",
        order=1,
        max_step=50,
        nsim_start=3e5,
        seed=0,
        verbose=False,
        flg_pro=False,
    ).set_index("channel_name")
    shares = result["total_conversions"] / result["total_conversions"].sum()
    # The reference simulates; at 3e5 journeys its shares were within 0.005 of the exact ones.
    np.testing.assert_allclose(shares.reindex(table.index), table["markov_removal"], atol=0.01)


def test_rank_agreement_known_taus():
    table = pd.DataFrame({"x": [1, 2, 3, 4], "y": [1, 2, 4, 3], "z": [4, 3, 2, 1]})
    tau = rank_agreement(table, ["x", "y", "z"])
    assert tau.index.tolist() == tau.columns.tolist() == ["x", "y", "z"]
    np.testing.assert_allclose(np.diag(tau), 1.0)
    np.testing.assert_allclose(tau.to_numpy(), tau.to_numpy().T)
    assert tau.loc["x", "y"] == pytest.approx(2 / 3)  # 5 concordant, 1 discordant of 6 pairs
    assert tau.loc["x", "z"] == pytest.approx(-1.0)


def test_rank_agreement_on_credit_table():
    table = multitouch_credit(*hand_log())
    tau = rank_agreement(table, ["linear", "position_based", "markov_removal"])
    np.testing.assert_allclose(np.diag(tau), 1.0)
    assert tau.loc["linear", "position_based"] == pytest.approx(1.0)  # same order: b > a = c > d


def test_rank_agreement_names_missing_column():
    with pytest.raises(MissingColumnError, match=r"cannot find column\(s\) \['lift'\]"):
        rank_agreement(pd.DataFrame({"linear": [1.0]}), ["linear", "lift"])


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (
            lambda e, s: (e.drop(columns="position"), s),
            MissingColumnError,
            r"events frame lacks.*position",
        ),
        (
            lambda e, s: (e, s.drop(columns="converted")),
            MissingColumnError,
            r"sessions frame lacks.*converted",
        ),
        (lambda e, s: (e, pd.concat([s, s.head(1)])), DataError, r"(?s)repeated session_id.*'s1'"),
        (
            lambda e, s: (e, s.assign(converted=s["converted"].astype(object).where(s.index > 0))),
            LabelError,
            r"(?s)1 sessions without a converted label.*'s1'",
        ),
        (
            lambda e, s: (e.assign(event=e["event"].where(e.index > 0)), s),
            DataError,
            r"1 events without an event name",
        ),
        (
            lambda e, s: (e, s.assign(converted=False)),
            LabelError,
            r"None of the 4 sessions with events",
        ),
        (lambda e, s: (e.assign(session_id="other"), s), EmptyInputError, r"None of the 9 events"),
    ],
    ids=[
        "no-position",
        "no-converted",
        "duplicate-session",
        "missing-label",
        "missing-event",
        "no-conversion",
        "no-match",
    ],
)
def test_bad_input_is_named(mutate, error, match):
    events, sessions = make_log(HAND_PATHS)
    with pytest.raises(error, match=match):
        multitouch_credit(*mutate(events, sessions))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"half_life_events": 0.0}, r"half_life_events must be a positive.*0\.0"),
        ({"u_shape_ends": 0.6}, r"u_shape_ends .* \[0, 0\.5\].*0\.6"),
    ],
)
def test_bad_parameters_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        multitouch_credit(*make_log(HAND_PATHS), **kwargs)
