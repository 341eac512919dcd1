"""The paired AUC difference: exact AUCs, DeLong's standard error against a paired bootstrap,
and the verdict's words on both sides of zero."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eventlift.analysis.auc_compare import paired_auc_difference, verdict_against_baseline


def _pair(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a good score and a weaker score that shares its noise (correlated models)."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    shared = rng.standard_normal(n)
    good = 1.2 * labels + shared + 0.5 * rng.standard_normal(n)
    weak = 0.8 * labels + shared + 0.5 * rng.standard_normal(n)
    return labels, good, weak


def test_aucs_are_sklearns_with_ties():
    from sklearn.metrics import roc_auc_score

    labels, good, weak = _pair()
    rounded = np.round(weak, 1)  # ties: midranks count them as half
    found = paired_auc_difference(labels, good, rounded)
    assert found["auc_a"] == pytest.approx(roc_auc_score(labels, good), abs=1e-12)
    assert found["auc_b"] == pytest.approx(roc_auc_score(labels, rounded), abs=1e-12)
    assert (found["n_positive"], found["n_negative"]) == (labels.sum(), (~labels).sum())


def test_standard_error_matches_a_paired_bootstrap():
    from sklearn.metrics import roc_auc_score

    labels, good, weak = _pair(seed=1)
    found = paired_auc_difference(labels, good, weak)
    rng = np.random.default_rng(2)
    differences = []
    for _ in range(400):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].all() or not labels[rows].any():
            continue
        differences.append(
            roc_auc_score(labels[rows], good[rows]) - roc_auc_score(labels[rows], weak[rows])
        )
    assert found["standard_error"] == pytest.approx(np.std(differences), rel=0.15)
    assert found["ci_low"] < found["difference"] < found["ci_high"]
    assert found["ci_low"] > 0  # the better model is found better at this size


def test_identical_scores_differ_by_exactly_nothing():
    labels, good, _ = _pair()
    found = paired_auc_difference(labels, good, good.copy())
    assert found["difference"] == 0 and found["standard_error"] == 0


def test_one_class_gives_nan_and_one_session_of_a_class_no_interval():
    found = paired_auc_difference(np.ones(5, bool), np.arange(5.0), np.arange(5.0))
    assert math.isnan(found["difference"]) and found["n_negative"] == 0
    labels = np.array([True, False, False, False, False])  # one converted session
    found = paired_auc_difference(labels, np.arange(5.0)[::-1], np.arange(5.0))
    assert found["difference"] == 1.0 and math.isnan(found["ci_low"])
    baselines = {"logistic": {"chosen": True}}
    verdict = verdict_against_baseline(
        labels, np.arange(5.0), baselines, {"logistic": -np.arange(5.0)}
    )
    assert verdict["better_than_counting"] is None
    assert verdict["message"].startswith("No verdict against the logistic regression baseline")


def test_verdict_names_the_validation_choice_and_says_when_counting_is_as_good():
    labels, good, weak = _pair(seed=3)
    features = {"events": 12, "event_category": 5, "total": 30}  # no store column on this log
    baselines = {
        "logistic": {"chosen": False},
        "lightgbm": {"chosen": True, "settings": {"features": features}},
    }
    scores = {"logistic": good, "lightgbm": weak}
    better = verdict_against_baseline(labels, good, baselines, scores)
    assert better["baseline"] == "lightgbm" and better["better_than_counting"] is True
    assert better["message"].startswith("The Transformer is better than counting on this log")
    same = verdict_against_baseline(labels, weak + 1e-9, baselines, scores)  # the chosen one's
    assert same["better_than_counting"] is False
    assert same["message"].startswith("Not better than counting on this log")
    assert "LightGBM" in same["message"] and "includes zero" in same["message"]
    assert "baseline (counts of events and categories)" in same["message"]
    bare = verdict_against_baseline(labels, good, {"logistic": {"chosen": True}}, scores)
    assert "logistic regression baseline (counts of events)" in bare["message"]
