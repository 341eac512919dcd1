"""Sampling sessions for a first look: whole sessions, reproducible, nested, split-neutral."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import eventlift
from eventlift.data.sample import sample_sessions
from eventlift.data.split import assign_splits
from eventlift.exceptions import ConfigError
from support.logs import random_log


def test_keeps_whole_sessions_exactly_and_reproducibly():
    events = random_log(500)
    kept, dropped = sample_sessions(events, 120, seed=3, key="session_id")
    assert kept["session_id"].nunique() == 120 and dropped == 380
    sizes = events.groupby("session_id").size()
    kept_sizes = kept.groupby("session_id").size()
    assert (kept_sizes == sizes.loc[kept_sizes.index]).all()
    again, _ = sample_sessions(events, 120, seed=3, key="session_id")
    pd.testing.assert_frame_equal(kept, again)
    other, _ = sample_sessions(events, 120, seed=4, key="session_id")
    assert set(other["session_id"]) != set(kept["session_id"])


def test_a_larger_sample_contains_a_smaller_one_and_all_is_a_no_op():
    events = random_log(300)
    small, _ = sample_sessions(events, 50, seed=0, key="session_id")
    large, _ = sample_sessions(events, 200, seed=0, key="session_id")
    assert set(small["session_id"]) <= set(large["session_id"])
    same, dropped = sample_sessions(events, 10_000, seed=0, key="session_id")
    assert same is events and dropped == 0


def test_sample_is_independent_of_the_split():
    # The split hashes the bare keys with the same seed; an unsalted sample would take the
    # smallest hashes, i.e. only training sessions.
    sessions = pd.DataFrame({"session_id": [f"s{i}" for i in range(20_000)]})
    sessions["user_id"] = sessions["session_id"]
    events = sessions.assign(event="view")
    kept, _ = sample_sessions(events, 4000, seed=0, key="session_id")
    split = assign_splits(sessions[sessions["session_id"].isin(kept["session_id"])], seed=0)
    shares = split.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.70, abs=0.03)
    assert shares["test"] == pytest.approx(0.15, abs=0.03)


def test_users_are_kept_whole_and_null_keys_reach_the_session_rules():
    events = random_log(200)
    events.loc[events.index[:3], "user_id"] = None
    kept, dropped = sample_sessions(events, 30, seed=0, key="user_id")
    assert kept["user_id"].nunique() == 30 and dropped == events["user_id"].nunique() - 30
    assert kept["user_id"].isna().sum() == 3
    by_user = events.dropna(subset=["user_id"]).groupby("user_id").size()
    kept_by_user = kept.dropna(subset=["user_id"]).groupby("user_id").size()
    assert (kept_by_user == by_user.loc[kept_by_user.index]).all()


def test_run_with_max_sessions_counts_what_was_left_out():
    config = {
        "columns": {"user_id": "user_id"},
        "sessions": {"conversion_events": ["buy"], "max_len": 12},
        "model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8},
        "train": {"epochs": 1, "min_count": 1},
        "attribution": {"bootstrap": 0, "faithfulness_sessions": 0},
        "input": {"max_sessions": 250},
    }
    result = eventlift.run(random_log(400), config, write=False)
    counts = result.summary["counts"]
    assert counts["sessions"] == 250
    assert counts["dropped_sessions"]["not_sampled"] == 150
    assert np.isin(result.session_table["session_id"], random_log(400)["session_id"]).all()


@pytest.mark.parametrize("value", [0, -5])
def test_max_sessions_must_be_positive(value):
    with pytest.raises(ConfigError, match="max_sessions must be positive"):
        eventlift.Config.from_dict({"input": {"max_sessions": value}})
