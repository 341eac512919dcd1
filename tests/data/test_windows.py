"""The session window: a prefix cuts both classes alike, a matched window cuts the others to the
converted lengths, and every event it removes is counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventlift.config import Config
from eventlift.data.sessions import build_sessions
from eventlift.data.windows import LengthReference, matched_lengths
from eventlift.exceptions import ConfigError
from support.logs import make_events


def _build(events: pd.DataFrame, seed: int = 0, **sessions) -> object:
    config = Config.from_dict(
        {"columns": {"user_id": "user_id"}, "sessions": {"conversion_events": ["buy"], **sessions}}
    )
    return build_sessions(events, config.sessions, config.columns, seed=seed)


def _session(name: str, n_events: int, converted: bool, step_seconds: int = 60) -> list[tuple]:
    rows = [(name, name, i * step_seconds, "view", None, None) for i in range(n_events)]
    if converted:
        rows.append((name, name, n_events * step_seconds, "buy", "conversion", None))
    return rows


def _log(converted: list[int], other: list[int]) -> pd.DataFrame:
    rows = [row for i, n in enumerate(converted) for row in _session(f"c{i}", n, True)]
    rows += [row for i, n in enumerate(other) for row in _session(f"o{i}", n, False)]
    return make_events(rows)


def test_prefix_by_events_and_minutes_cuts_both_classes_alike():
    log = _log(converted=[3, 8], other=[2, 9])
    by_events = _build(log, window="prefix", window_events=4)
    assert by_events.sessions["n_events"].tolist() == [3, 4, 2, 4]
    assert by_events.counts["dropped_rows"]["outside_window"] == 4 + 5
    assert by_events.counts["windowed_sessions"] == 2
    # events one minute apart: the first 2.5 minutes hold three events (0, 1 and 2 minutes)
    by_minutes = _build(log, window="prefix", window_minutes=2.5)
    assert by_minutes.sessions["n_events"].tolist() == [3, 3, 2, 3]
    both = _build(log, window="prefix", window_events=2, window_minutes=2.5)
    assert both.sessions["n_events"].tolist() == [2, 2, 2, 2]


def test_full_window_counts_nothing_and_keeps_every_event():
    data = _build(_log(converted=[3, 8], other=[2, 9]))
    assert "outside_window" not in data.counts["dropped_rows"]
    assert "windowed_sessions" not in data.counts
    assert data.sessions["n_events"].tolist() == [3, 8, 2, 9]


def test_matched_window_gives_the_others_the_converted_lengths():
    rng = np.random.default_rng(0)
    converted = rng.integers(2, 8, size=300).tolist()
    other = (rng.integers(2, 8, size=600) + rng.integers(3, 10, size=600)).tolist()  # run longer
    data = _build(_log(converted, other), seed=3, window="matched")
    sessions = data.sessions.set_index("session_id")
    kept_converted = sessions.loc[[f"c{i}" for i in range(300)], "n_events"].to_numpy()
    kept_other = sessions.loc[[f"o{i}" for i in range(600)], "n_events"].to_numpy()
    assert kept_converted.tolist() == converted  # converted sessions are never cut
    assert (kept_other <= np.array(other)).all()  # never lengthened
    # every other session ran longer than any converted one could, so all were cut, and their
    # lengths now follow the converted ones: same spread, quantile by quantile
    assert data.counts["windowed_sessions"] == 600
    assert data.counts["dropped_rows"]["outside_window"] == sum(other) - kept_other.sum()
    quantiles = [0.1, 0.25, 0.5, 0.75, 0.9]
    assert np.abs(np.quantile(kept_other, quantiles) - np.quantile(converted, quantiles)).max() <= 1
    assert abs(kept_other.mean() - np.mean(converted)) < 0.2
    again = _build(_log(converted, other), seed=3, window="matched")
    assert again.sessions["n_events"].tolist() == data.sessions["n_events"].tolist()
    other_seed = _build(_log(converted, other), seed=4, window="matched")
    assert other_seed.sessions["n_events"].tolist() != data.sessions["n_events"].tolist()


def test_matched_window_leaves_lengths_that_already_agree_almost_alone():
    rng = np.random.default_rng(1)
    lengths = rng.integers(2, 12, size=400).tolist()
    data = _build(_log(lengths[:200], lengths[200:]), window="matched")
    # the same distribution on both sides: a session moves only within its tie, by at most the
    # gap between neighbouring quantiles
    assert data.counts["windowed_sessions"] < 120
    kept = data.sessions.set_index("session_id").loc[[f"o{i}" for i in range(200)], "n_events"]
    assert abs(kept.mean() - np.mean(lengths[200:])) < 0.6


def test_matched_lengths_maps_by_quantile_and_spreads_ties():
    references = (
        LengthReference.of(np.array([2, 2, 4, 4])),
        LengthReference.of(np.array([10] * 4)),
    )
    ids = pd.Series([f"s{i}" for i in range(4000)])
    kept = matched_lengths(np.full(4000, 10), np.zeros(4000, bool), ids, references, seed=0)
    # one tied length on the other side: its sessions spread over the converted lengths
    assert set(kept.tolist()) == {2, 4}
    assert abs((kept == 2).mean() - 0.5) < 0.03
    short = matched_lengths(np.array([1, 3]), np.array([False, True]), ids[:2], references, seed=0)
    assert short.tolist() == [1, 3]  # shorter than every converted length: kept whole


@pytest.mark.parametrize(
    ("sessions", "message"),
    [
        ({"window": "prefix"}, r'window = "prefix" needs window_events'),
        ({"window_events": 5}, r'window_events applies only to window = "prefix"'),
        ({"window": "matched", "window_minutes": 5}, r"window_minutes applies only"),
        (
            {"window": "prefix", "window_events": 0},
            r"window_events must be a finite number above 0",
        ),
        ({"window": "tail"}, r"window"),
    ],
)
def test_window_settings_are_checked(sessions, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict({"sessions": sessions})
