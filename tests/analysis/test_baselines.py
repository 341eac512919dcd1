"""Baselines: they find planted drivers (events, order, stores), see nothing in noise, choose their
settings and each other on validation, ignore unseen tokens, and repeat."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.baselines import DEFAULT_TREES, LOGISTIC_C, NUM_LEAVES, fit_baselines
from eventlift.exceptions import DataError, LabelError, MissingColumnError

FILLER = ("view", "scroll", "search", "tab", "store_page")
METRICS = {"test_auc", "val_auc", "test_pr_auc", "fit_seconds"}


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


def _store_log(n_sessions: int, seed: int, rule: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions of 3-9 filler events, three of them at one of 40 stores (st00 and st01 popular,
    st39 in one session only, so that length and event counts say nothing of the stores); the
    label depends on the stores visited alone:

    * ``"xor"``: 80 % convert when exactly one of st00, st01 was visited, 10 % otherwise;
    * ``"additive"``: log-odds -2.5 + 1.5 per visited store of st02-st11;
    * ``"none"``: 30 % convert, whatever the session holds.
    """
    rng = np.random.default_rng(seed)
    stores = np.array([f"st{index:02d}" for index in range(39)])
    popularity = np.r_[0.12, 0.12, np.full(37, 0.76 / 37)]
    lengths = rng.integers(3, 10, size=n_sessions)
    session = np.repeat(np.arange(n_sessions), lengths)  # (E,)
    position = np.concatenate([rng.permutation(n) + 1 for n in lengths])  # (E,) shuffled
    store = rng.choice(stores, size=len(session), p=popularity).astype(object)
    store[position > 3] = None  # three store events per session, wherever they fall
    store[0] = "st39"
    events = pd.DataFrame(
        {
            "session_id": session,
            "position": position,
            "event": rng.choice(FILLER, size=len(session)),
            "store_id": store,
        }
    )
    visited = pd.crosstab(events["session_id"], events["store_id"]) > 0  # (S, stores)
    if rule == "xor":
        probability = np.where(visited["st00"] != visited["st01"], 0.8, 0.1)
    elif rule == "additive":
        good = visited[list(stores[2:12])].sum(axis=1).to_numpy()
        probability = 1 / (1 + np.exp(2.5 - 1.5 * good))
    else:
        probability = np.full(n_sessions, 0.3)
    sessions = pd.DataFrame(
        {
            "session_id": np.arange(n_sessions),
            "converted": rng.random(n_sessions) < probability,
            "split": _split(n_sessions, rng),
        }
    )
    return events, sessions


def _first_event_log(n_sessions: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every session holds one "x" and one "y" and converts when "x" comes first: counts are the
    same in both classes, so only the first/last-event features can tell them apart."""
    rng = np.random.default_rng(seed)
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
    return events, sessions


def _without_timing(result: dict) -> dict:
    return {name: {k: v for k, v in m.items() if k != "fit_seconds"} for name, m in result.items()}


def test_both_baselines_find_a_planted_driver():
    events, sessions = _log(600, seed=1)
    result = fit_baselines(events, sessions, seed=0)
    assert set(result) == {"logistic", "lightgbm"}
    for name in ("logistic", "lightgbm"):
        metrics = result[name]
        assert set(metrics) == METRICS | {"chosen", "settings"}
        assert metrics["test_auc"] > 0.95, name
        assert metrics["val_auc"] > 0.95, name
        assert metrics["test_pr_auc"] > 0.9, name
        assert metrics["fit_seconds"] >= 0.0


def test_label_independent_of_events_gives_auc_near_half():
    events, sessions = _log(3000, seed=2, driver=None)
    result = fit_baselines(events, sessions, seed=0)
    for name in ("logistic", "lightgbm"):
        assert abs(result[name]["test_auc"] - 0.5) < 0.1, (name, result[name])


def test_noise_labels_are_not_inverted_and_stop_the_trees_early():
    # Trees that memorise their training sessions score noise. With the label independent of
    # everything, the test AUC over several logs must centre on 0.5, not below it, and boosting
    # must stop well before the 200 rounds it once ran to.
    results = [fit_baselines(*_store_log(1500, seed, "none")) for seed in range(10)]
    for name in ("logistic", "lightgbm"):
        aucs = np.array([result[name]["test_auc"] for result in results])
        assert abs(aucs.mean() - 0.5) < 0.04, (name, aucs)
        assert np.all(np.abs(aucs - 0.5) < 0.13), (name, aucs)
    assert all(result["lightgbm"]["settings"]["trees"] < 200 for result in results)


def test_store_driven_interaction_is_found_by_the_trees():
    # The label is an exclusive or of two stores: event counts, order and length say nothing, so
    # baselines without the store counts stay at chance (200 unstopped trees: 0.51 on this log);
    # trees over the store counts find it, and beat a linear model, which cannot express an
    # exclusive or.
    events, sessions = _store_log(1200, seed=11, rule="xor")
    result = fit_baselines(events, sessions)
    assert result["lightgbm"]["test_auc"] > 0.75
    assert result["lightgbm"]["test_auc"] > result["logistic"]["test_auc"] + 0.05
    assert result["lightgbm"]["chosen"]
    blind = fit_baselines(events.drop(columns="store_id"), sessions)
    for name in ("logistic", "lightgbm"):
        assert abs(blind[name]["test_auc"] - 0.5) < 0.12, (name, blind[name])


def test_store_counts_lift_the_logistic_baseline():
    events, sessions = _store_log(1200, seed=12, rule="additive")
    with_stores = fit_baselines(events, sessions)
    events_only = fit_baselines(events.drop(columns="store_id"), sessions)
    assert with_stores["logistic"]["test_auc"] > events_only["logistic"]["test_auc"] + 0.15
    assert with_stores["logistic"]["test_auc"] > 0.65
    # st00-st38 are held by five training sessions or more, st39 by one at most: "other"
    assert with_stores["logistic"]["settings"]["features"]["store_id"] == 39 + 1
    assert "store_id" not in events_only["logistic"]["settings"]["features"]


def test_entity_columns_absent_or_all_null_add_no_feature():
    # The Spark path passes exploded arrays: object strings, no entity column.
    events, sessions = _log(300, seed=13)
    plain = fit_baselines(events.astype({"event": object}), sessions)
    nulls = fit_baselines(events.assign(store_id=None, event_category=None), sessions)
    for result in (plain, nulls):
        features = result["logistic"]["settings"]["features"]
        assert set(features) == {"events", "total"}
        assert features["total"] == 3 * features["events"] + 1
    assert _without_timing(plain) == _without_timing(nulls)
    categories = events.assign(event_category=events["event"].map({"view": "browse"}))
    assert fit_baselines(categories, sessions)["logistic"]["settings"]["features"] == {
        "events": 6,
        "event_category": 1 + 1,
        "total": 3 * 6 + 2 + 1,
    }


def test_settings_are_chosen_on_validation_and_serialise():
    events, sessions = _store_log(1000, seed=14, rule="additive")
    result = fit_baselines(events, sessions)
    logistic, lightgbm = result["logistic"]["settings"], result["lightgbm"]["settings"]
    assert [tried["C"] for tried in logistic["tried"]] == list(LOGISTIC_C)
    assert [tried["num_leaves"] for tried in lightgbm["tried"]] == list(NUM_LEAVES)
    for name, key in (("logistic", "C"), ("lightgbm", "num_leaves")):
        settings = result[name]["settings"]
        best = max(settings["tried"], key=lambda tried: tried["val_auc"])
        assert settings[key] == best[key]
        assert result[name]["val_auc"] == pytest.approx(best["val_auc"])
        assert settings["selected_on"] == "validation"
    assert lightgbm["trees"] == next(
        tried["trees"]
        for tried in lightgbm["tried"]
        if tried["num_leaves"] == lightgbm["num_leaves"]
    )
    assert 1 <= lightgbm["trees"] < lightgbm["max_trees"]  # stopped early
    assert lightgbm["min_child_samples"] >= 20
    json.dumps({name: entry["settings"] for name, entry in result.items()}, allow_nan=False)


def test_exactly_one_baseline_is_chosen_the_better_on_validation():
    for events, sessions in (_store_log(800, 15, "xor"), _store_log(800, 16, "additive")):
        result = fit_baselines(events, sessions)
        chosen = [name for name, entry in result.items() if entry["chosen"]]
        assert len(chosen) == 1
        best = max(result, key=lambda name: (result[name]["val_auc"], name == "logistic"))
        assert chosen == [best]
    # both are perfect on validation: the tie goes to logistic regression
    result = fit_baselines(*_first_event_log(600, seed=17))
    assert result["logistic"]["val_auc"] == result["lightgbm"]["val_auc"] == 1.0
    assert result["logistic"]["chosen"] and not result["lightgbm"]["chosen"]


def test_kept_test_scores_follow_the_sessions_frame():
    from sklearn.metrics import roc_auc_score

    events, sessions = _store_log(800, seed=18, rule="additive")
    assert "test_scores" not in fit_baselines(events, sessions)["logistic"]
    for frame in (sessions, sessions.sample(frac=1.0, random_state=1)):
        result = fit_baselines(events, frame, keep_scores=True)
        labels = frame.loc[frame["split"] == "test", "converted"]  # in the frame's order
        for name, entry in result.items():
            scores = entry["test_scores"]
            assert scores.dtype == np.float64 and scores.shape == labels.shape
            assert entry["test_auc"] > 0.7, name  # misaligned scores would sit near 0.5
            assert roc_auc_score(labels, scores) == entry["test_auc"], name


def test_both_see_which_event_comes_first():
    # Both baselines now read the first/last-event one-hots (logistic regression used to see the
    # counts only and stayed at 0.5 here).
    result = fit_baselines(*_first_event_log(1500, seed=4), seed=0)
    for name in ("logistic", "lightgbm"):
        assert result[name]["test_auc"] > 0.95, name


def test_tokens_unseen_in_training_are_ignored():
    # The label is given away by a token that only test and validation sessions hold.
    events, sessions = _log(2000, seed=3, driver=None)
    held_out = sessions.loc[sessions["converted"] & (sessions["split"] != "train"), "session_id"]
    leak = pd.DataFrame({"session_id": held_out, "position": 99, "event": "only_after_training"})
    result = fit_baselines(pd.concat([events, leak], ignore_index=True), sessions, seed=0)
    for name in ("logistic", "lightgbm"):
        assert abs(result[name]["test_auc"] - 0.5) < 0.1, (name, result[name])


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
    result = fit_baselines(events, sessions, seed=0, keep_scores=True)
    for name in ("logistic", "lightgbm"):
        assert math.isnan(result[name]["test_auc"])
        assert math.isnan(result[name]["test_pr_auc"])
        assert result[name]["val_auc"] > 0.95
        assert len(result[name]["test_scores"]) == int(test.sum())


def test_validation_with_one_class_or_none_falls_back_to_default_settings():
    events, sessions = _log(600, seed=19)
    validation = sessions["split"] == "validation"
    one_class = sessions.assign(converted=sessions["converted"] & ~validation)
    no_rows = sessions.assign(split=sessions["split"].where(~validation, "train"))
    for frame in (one_class, no_rows):
        result = fit_baselines(events, frame)
        assert result["logistic"]["settings"]["C"] == 1.0
        assert result["lightgbm"]["settings"]["trees"] == DEFAULT_TREES
        for name in ("logistic", "lightgbm"):
            assert result[name]["settings"]["selected_on"] == "default"
            assert math.isnan(result[name]["val_auc"])
            assert result[name]["test_auc"] > 0.95
        assert result["logistic"]["chosen"] and not result["lightgbm"]["chosen"]


def test_training_split_with_one_class_fits_nothing():
    events, sessions = _log(300, seed=7)
    sessions.loc[sessions["split"] == "train", "converted"] = False
    result = fit_baselines(events, sessions, keep_scores=True)
    n_test = int((sessions["split"] == "test").sum())
    for entry in result.values():
        assert all(math.isnan(entry[key]) for key in METRICS)
        assert not entry["chosen"] and entry["settings"] == {}
        assert entry["test_scores"].shape == (n_test,) and np.isnan(entry["test_scores"]).all()


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
