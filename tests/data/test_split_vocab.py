"""Splits are deterministic and per user; vocabularies come from training data only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventlift.config import Config
from eventlift.data.prepare import prepare_sessions
from eventlift.data.split import assign_splits
from eventlift.data.vocab import PAD_ID, UNK_ID, Vocabulary
from support.logs import random_log


def sessions_frame(n=3000):
    return pd.DataFrame(
        {
            "session_id": [f"s{i}" for i in range(n)],
            "user_id": [f"u{i // 3}" for i in range(n)],
            "start_time": pd.date_range("2024-01-01", periods=n, freq="min"),
        }
    )


def test_random_split_is_deterministic_by_user_and_independent_of_the_rest():
    frame = sessions_frame()
    split = assign_splits(frame, seed=7)
    assert split.equals(assign_splits(frame, seed=7))
    assert not split.equals(assign_splits(frame, seed=8))
    shares = split.value_counts(normalize=True)
    assert abs(shares["train"] - 0.7) < 0.04 and abs(shares["test"] - 0.15) < 0.03
    assert (split.groupby(frame["user_id"]).nunique() == 1).all()  # a user stays in one split
    # a subset of the log keeps its assignments
    subset = frame.iloc[::5]
    assert assign_splits(subset, seed=7).equals(split.iloc[::5])
    # shuffled input, same answer per session
    shuffled = frame.sample(frac=1.0, random_state=1)
    assert assign_splits(shuffled, seed=7).sort_index().equals(split)


def test_time_split_puts_the_newest_sessions_in_test():
    frame = sessions_frame(100)
    split = assign_splits(frame, method="time")
    assert split.tolist() == ["train"] * 70 + ["validation"] * 15 + ["test"] * 15


def test_vocabulary_counts_and_unknowns():
    vocab = Vocabulary.build(pd.Series(["a", "b", "a", "c", "a", "b", None]), min_count=2)
    assert vocab.tokens == ["<pad>", "<unk>", "a", "b"]
    ids = vocab.encode(pd.Series(["b", "c", "zzz", None]))
    assert ids.tolist() == [3, UNK_ID, UNK_ID, PAD_ID]


def test_vocabularies_use_the_training_split_only():
    config = Config.from_dict(
        {
            "columns": {"user_id": "user_id", "store_id": "store_id"},
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "train": {"min_count": 1},
        }
    )
    events = random_log(300)
    # an event that only test users have must encode as <unk>
    probe, _, encoded = prepare_sessions(events, config, "no_funnel")
    test_ids = set(encoded.session_ids[encoded.indices("test")])
    rare = events["session_id"].isin(test_ids) & (events["event"] == "view")
    events.loc[rare, "event"] = "test_only_event"
    _, _, encoded = prepare_sessions(events, config, "no_funnel")
    assert "test_only_event" not in encoded.vocabularies["event"].tokens
    rows = encoded.indices("test")
    assert (encoded.inputs["event"][rows] == UNK_ID).any()
    # padding beyond each session's length is zero everywhere
    width = encoded.inputs["event"].shape[1]
    padding = np.arange(width)[None, :] >= encoded.lengths[:, None]
    assert all((matrix[padding] == 0).all() for matrix in encoded.inputs.values())
    assert len(probe.sessions) == len(encoded)
