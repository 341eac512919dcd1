"""The leak rules on planted logs: funnel steps as real logs hold them are named, drivers are not.

Each log comes from the leak-scenario generator (:mod:`eventlift.data.leak_scenarios`), which
knows which events are funnel steps, which are genuine drivers and whether the natural end of a
session differs by class; ``benchmarks/leaks.py`` runs all of them over several seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from eventlift.analysis.session_end import grouped_auc
from eventlift.analysis.trust import find_leaks
from eventlift.config import ColumnsConfig, Config, SessionsConfig
from eventlift.data.leak_scenarios import EXIT, SCENARIOS, generate_scenario
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events

CONFIG = Config(
    sessions=SessionsConfig(conversion_events=["purchase"], funnel_categories=[]),
    columns=ColumnsConfig(store_id=None),
)


@pytest.fixture(scope="module")
def probed():
    """Findings (event -> rules) and the session-end entry of a scenario, computed once."""
    cache: dict[str, tuple[dict[str, list[str]], dict]] = {}

    def probe(name: str) -> tuple[dict[str, list[str]], dict]:
        if name not in cache:
            frame = read_events(generate_scenario(SCENARIOS[name]), CONFIG)
            data, split, _ = prepare_sessions(frame, CONFIG, "with_funnel")
            labelled = data.sessions.assign(split=split.to_numpy())
            records, session_end = find_leaks(data, labelled, CONFIG)
            cache[name] = ({r["event"]: r["rules"] for r in records}, session_end)
        return cache[name]

    return probe


def _drivers(name: str) -> set[str]:
    return {driver.name for driver in SCENARIOS[name].drivers}


def test_a_chain_of_abandoned_funnel_steps_is_named_by_coming_late(probed):
    named, _ = probed("three_steps_weak")
    # each step alone has a presence AUC of 0.75-0.85: below the presence rule's 0.9
    assert set(named) == set(SCENARIOS["three_steps_weak"].leaks)
    assert all("late" in rules and "presence" not in rules for rules in named.values())


def test_a_step_written_anywhere_is_named_by_what_it_adds(probed):
    named, _ = probed("single_step_anywhere")
    assert named == {"cart_add_anywhere": ["gain"]}


def test_genuine_drivers_are_not_named(probed):
    named, session_end = probed("drivers_only")
    assert _drivers("drivers_only") and not set(named)
    assert not session_end["flagged"]
    assert not session_end["converted_shorter"]  # more browsing before a purchase


def test_an_exit_event_ending_the_other_sessions_is_named(probed):
    named, _ = probed("exit_event")
    assert EXIT in named
    assert not set(named) & _drivers("exit_event")


def test_the_cut_at_conversion_is_flagged_with_its_fix(probed):
    named, session_end = probed("browse_on")
    assert not named
    assert session_end["flagged"] and session_end["converted_shorter"]
    assert session_end["length_auc"] >= 0.6
    assert "session length carries the label" in session_end["reason"]
    assert 'window = "matched"' in session_end["fix"]


def test_grouped_auc_is_the_auc_of_the_per_session_scores():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    scores, labels = rng.integers(0, 12, size=500), rng.random(500) < 0.3
    values = np.unique(scores)
    positives = np.array([(labels & (scores == v)).sum() for v in values])
    negatives = np.array([(~labels & (scores == v)).sum() for v in values])
    assert grouped_auc(values, positives, negatives) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12
    )
    assert np.isnan(grouped_auc(values, positives, np.zeros_like(negatives)))


def test_the_test_bed_plants_what_it_says():
    assert len(SCENARIOS) >= 20
    scenario = SCENARIOS["independent_steps"]
    frame = generate_scenario(scenario)
    assert frame.equals(generate_scenario(scenario))
    held = frame.groupby("session_id")["event"].agg(set)
    converted = held.map(lambda events: "purchase" in events)
    for step in scenario.steps:
        has = held.map(lambda events, name=step.name: name in events)
        assert abs(has[converted].mean() - step.p_converted) < 0.05, step.name
        assert abs(has[~converted].mean() - step.p_other) < 0.03, step.name
