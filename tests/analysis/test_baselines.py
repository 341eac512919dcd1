"""Baselines: they find a planted driver, see nothing in noise, ignore unseen tokens, repeat."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.baselines import fit_baselines
from eventlift.exceptions import DataError, LabelError, MissingColumnError

FILLER = ("view", "scroll", "search", "tab", "store_page")


def _split(n_sessions: int, rng: np.random.Generator) -> np.ndarray:
    """70/15/15 split names in a random order."""
    names = np.array(["train"] * 70 + ["validation"] * 15 + ["test"] * 15)
    return rng.permutation(np.resize(names, n_sessions))


def _log(
    n_sessions: int, seed: int, *, driver: str | None = "promo_click"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random sessions of 3-9 filler events; ``driver`` is planted in every converted one."""
    rng = np.random.default_rng(seed)
    converted = rng.random(n_sessions) < 0.4
    rows = []
    for index in range(n_sessions):
        tokens = list(rng.choice(FILLER, size=rng.integers(3, 10)))
        if driver is not None and converted[index]:
            tokens.insert(int(rng.integers(0, len(tokens) + 1)), driver)
        rows += [(f"s{index}", position, token) for position, token in enumerate(tokens, 1)]
    events = pd.DataFrame(rows, columns=["session_id", "position", "event"])
    sessions = pd.DataFrame(
        {
            "session_id": [f"s{index}" for index in range(n_sessions)],
            "converted": converted,
            "split": _split(n_sessions, rng),
        }
    )
    return events, sessions


def _without_timing(result: dict) -> dict:
    return {name: {k: v for k, v in m.items() if k != "fit_seconds"} for name, m in result.items()}


def test_both_baselines_find_a_planted_driver():
    events, sessions = _log(600, seed=1)
    result = fit_baselines(events, sessions, seed=0)
    assert set(result) == {"logistic", "lightgbm"}
    for name in ("logistic", "lightgbm"):
        metrics = result[name]
        assert set(metrics) == {"test_auc", "val_auc", "test_pr_auc", "fit_seconds"}
        assert metrics["test_auc"] > 0.95, name
        assert metrics["val_auc"] > 0.95, name
        assert metrics["test_pr_auc"] > 0.9, name
        assert metrics["fit_seconds"] >= 0.0


def test_label_independent_of_events_gives_auc_near_half():
    events, sessions = _log(3000, seed=2, driver=None)
    result = fit_baselines(events, sessions, seed=0)
    for name in ("logistic", "lightgbm"):
        assert abs(result[name]["test_auc"] - 0.5) < 0.1, (name, result[name])


def test_tokens_unseen_in_training_are_ignored():
    # The label is given away by a token that only test and validation sessions hold.
    events, sessions = _log(2000, seed=3, driver=None)
    held_out = sessions.loc[sessions["converted"] & (sessions["split"] != "train"), "session_id"]
    leak = pd.DataFrame({"session_id": held_out, "position": 99, "event": "only_after_training"})
    result = fit_baselines(pd.concat([events, leak], ignore_index=True), sessions, seed=0)
    for name in ("logistic", "lightgbm"):
        assert abs(result[name]["test_auc"] - 0.5) < 0.1, (name, result[name])


def test_lightgbm_sees_which_event_comes_first():
    # Every session holds one "x" and one "y"; it converts when "x" comes first. Counts are the
    # same in both classes, so only the first/last-event features can tell them apart.
    rng = np.random.default_rng(4)
    n_sessions = 1500
    converted = rng.random(n_sessions) < 0.5
    rows = []
    for index in range(n_sessions):
        pair = ["x", "y"] if converted[index] else ["y", "x"]
        tokens = [pair[0], *rng.choice(FILLER, size=rng.integers(1, 5)), pair[1]]
        rows += [(index, position, token) for position, token in enumerate(tokens, 1)]
    events = pd.DataFrame(rows, columns=["session_id", "position", "event"])
    events = events.sample(frac=1.0, random_state=0)  # row order must not matter, positions do
    sessions = pd.DataFrame(
        {"session_id": range(n_sessions), "converted": converted, "split": _split(n_sessions, rng)}
    )
    result = fit_baselines(events, sessions, seed=0)
    assert result["lightgbm"]["test_auc"] > 0.95
    assert abs(result["logistic"]["test_auc"] - 0.5) < 0.1


def test_same_inputs_give_the_same_scores():
    events, sessions = _log(800, seed=5)
    sessions["converted"] = np.random.default_rng(0).random(len(sessions)) < 0.5  # noisy label
    first = fit_baselines(events, sessions, seed=7)
    second = fit_baselines(events, sessions, seed=7)
    assert _without_timing(first) == _without_timing(second)
    assert not math.isnan(first["lightgbm"]["test_auc"])


def test_split_with_one_class_gives_nan_not_a_crash():
    events, sessions = _log(600, seed=6)
    test = sessions["split"] == "test"
    sessions.loc[test, "converted"] = True
    result = fit_baselines(events, sessions, seed=0)
    for name in ("logistic", "lightgbm"):
        assert math.isnan(result[name]["test_auc"])
        assert math.isnan(result[name]["test_pr_auc"])
        assert result[name]["val_auc"] > 0.95


def test_training_split_with_one_class_fits_nothing():
    events, sessions = _log(300, seed=7)
    sessions.loc[sessions["split"] == "train", "converted"] = False
    result = fit_baselines(events, sessions)
    assert all(math.isnan(value) for metrics in result.values() for value in metrics.values())


def test_missing_column_is_named():
    events, sessions = _log(50, seed=8)
    with pytest.raises(MissingColumnError, match=r"sessions frame lacks column\(s\) \['split'\]"):
        fit_baselines(events, sessions.drop(columns="split"))


def test_unknown_split_name_is_reported():
    events, sessions = _log(50, seed=9)
    sessions.loc[0, "split"] = "val"
    with pytest.raises(
        DataError, match=r"(?s)unknown split.*'train', 'validation', 'test'.*split='val'"
    ):
        fit_baselines(events, sessions)


def test_missing_label_is_reported():
    events, sessions = _log(50, seed=10)
    sessions["converted"] = sessions["converted"].astype(object)
    sessions.loc[3, "converted"] = None
    with pytest.raises(
        LabelError, match=r"(?s)1 sessions without a converted label.*session_id='s3'"
    ):
        fit_baselines(events, sessions)
