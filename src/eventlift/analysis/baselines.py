"""Simple baselines trained next to the Transformer on the same split.

A Transformer that cannot beat a count of events is not worth explaining, and a weak baseline
flatters it, so every run fits two baselines as well as they can be fitted on the same features
(:mod:`~eventlift.analysis.baseline_features`: counts of events, stores and event categories, the
first and last event, the length):

* **logistic** — logistic regression on ``log1p`` counts scaled to [0, 1], its inverse
  regularisation ``C`` chosen on validation AUC;
* **lightgbm** — gradient-boosted trees stopped early on the validation log loss, with leaves of
  at least 1 % of the training sessions and an L2 penalty on leaf values, the number of leaves
  chosen on validation AUC. Unregularised trees run to a fixed 200 rounds memorise a few
  thousand sessions (training AUC 0.999): on weak signal their test AUC fell to chance, or below
  it by the noise of the test split, where logistic regression found the signal.

The baseline with the higher validation AUC is marked ``chosen``: the one the Transformer is
compared with. Its validation AUC is the best of those tried, so it is slightly optimistic; the
test split played no part in any choice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from eventlift.analysis.baseline_features import BaselineFeatures, build_features
from eventlift.analysis.frames import require_columns, session_labels
from eventlift.data.schema import SPLITS
from eventlift.exceptions import DataError, format_rows

__all__ = ["fit_baselines"]

logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("session_id", "position", "event")
SESSION_COLUMNS = ("session_id", "converted", "split")
METRIC_KEYS = ("test_auc", "val_auc", "test_pr_auc", "fit_seconds")

LOGISTIC_C = (0.01, 0.1, 1.0, 10.0)  # inverse regularisation tried, strongest first
DEFAULT_C = 1.0  # when the validation split cannot score (one class)
NUM_LEAVES = (7, 31)  # shallow trees for little data or additive effects, deeper for interactions
LEARNING_RATE = 0.05
MAX_TREES = 1000
PATIENCE = 50  # rounds without a lower validation log loss before boosting stops
DEFAULT_TREES = 100  # when the validation split cannot score (one class)
SETTINGS_REPORTED = (
    "learning_rate",
    "min_child_samples",
    "lambda_l2",
    "feature_fraction",
    "bagging_fraction",
)
TREE_PARAMS = {
    "objective": "binary",
    "learning_rate": LEARNING_RATE,
    "lambda_l2": 10.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
}


def fit_baselines(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    *,
    seed: int = 0,
    min_count: int = 5,
    keep_scores: bool = False,
) -> dict[str, dict[str, Any]]:
    """Fit the logistic and LightGBM baselines on the training split and score them.

    Parameters
    ----------
    events
        Processed events, one row per event: ``session_id``, ``position`` (1-based) and ``event``,
        and optionally ``store_id`` and ``event_category`` (counted when present and not all
        null). Other columns are ignored; events of sessions absent from ``sessions`` are too.
    sessions
        One row per session: ``session_id``, ``converted`` (bool) and ``split``
        (``"train"``, ``"validation"`` or ``"test"``).
    seed
        Seed of both models, so that the same inputs give the same scores.
    min_count
        Store and category values held by fewer training sessions share one "other" column.
    keep_scores
        Also return each baseline's ``test_scores``: ``(S_test,)`` float64 probabilities of the
        test sessions, in their order in ``sessions``, for a paired comparison.

    Returns
    -------
    dict
        ``{"logistic": {...}, "lightgbm": {...}}``, each with ``test_auc``, ``val_auc``,
        ``test_pr_auc``, ``fit_seconds`` (the whole search), ``chosen`` (True for the one with
        the higher validation AUC; ties and NaN go to logistic) and ``settings`` (what was chosen
        and what was tried, JSON-serialisable). A metric whose split lacks one of the two classes
        is NaN; when the training split lacks one, nothing is fitted, every metric is NaN and
        neither is chosen.

    Raises
    ------
    MissingColumnError
        A required column is missing from ``events`` or ``sessions``.
    DataError
        Duplicate session ids or an unknown split name in ``sessions``, or no training events.
    LabelError
        ``converted`` holds missing values.
    """
    require_columns(events, EVENT_COLUMNS, "events")
    require_columns(sessions, SESSION_COLUMNS, "sessions")
    labels, splits = _session_labels(sessions)
    train = splits == "train"
    if len(np.unique(labels[train])) < 2:
        logger.warning(
            "Baselines skipped: the training split holds %d sessions and not both classes.",
            int(train.sum()),
        )
        return _unfitted(int((splits == "test").sum()), keep_scores)

    features = build_features(events, sessions["session_id"], splits, min_count=min_count)
    result = {
        "logistic": _fit_logistic(features, labels, splits, seed),
        "lightgbm": _fit_lightgbm(features, labels, splits, seed),
    }
    lightgbm_wins = result["lightgbm"]["val_auc"] > result["logistic"]["val_auc"]  # NaN: False
    result["logistic"]["chosen"], result["lightgbm"]["chosen"] = not lightgbm_wins, lightgbm_wins
    for entry in result.values():
        entry["settings"]["features"] = dict(features.columns)
        if not keep_scores:
            del entry["test_scores"]
    logger.info(
        "Baselines: logistic test AUC %.3f, LightGBM test AUC %.3f (%d features); %s chosen on "
        "validation.",
        result["logistic"]["test_auc"],
        result["lightgbm"]["test_auc"],
        features.columns["total"],
        "LightGBM" if lightgbm_wins else "logistic",
    )
    return result


def _session_labels(sessions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``sessions`` and return its labels ``(S,)`` bool and split names ``(S,)``."""
    labels = session_labels(sessions)  # (S,)
    unknown = ~sessions["split"].isin(SPLITS)
    if unknown.any():
        rows = sessions.loc[unknown, ["session_id", "split"]]
        raise DataError(
            f"The sessions frame has {len(rows)} sessions with an unknown split; allowed splits "
            f"are {list(SPLITS)}. First ones:\n" + format_rows(rows.to_dict("records"))
        )
    splits = sessions["split"].to_numpy(dtype=object)  # (S,)
    return labels, splits


def _unfitted(n_test: int, keep_scores: bool) -> dict[str, dict[str, Any]]:
    """The result when nothing can be fitted: NaN metrics and scores, nothing chosen."""
    result = {}
    for name in ("logistic", "lightgbm"):
        entry: dict[str, Any] = dict.fromkeys(METRIC_KEYS, float("nan"))
        entry.update(chosen=False, settings={})
        if keep_scores:
            entry["test_scores"] = np.full(n_test, np.nan)
        result[name] = entry
    return result


def _fit_logistic(
    features: BaselineFeatures, labels: np.ndarray, splits: np.ndarray, seed: int
) -> dict[str, Any]:
    """Logistic regression for each ``C`` of :data:`LOGISTIC_C`, the best on validation AUC.

    Each fit is on the training rows only; ties go to the stronger regularisation. Without both
    classes in validation nothing can be chosen and :data:`DEFAULT_C` is fitted.
    """
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    train, validation = splits == "train", splits == "validation"
    matrix = features.for_logistic(train)  # (S, F)
    can_choose = _has_both(labels[validation])
    best, tried = None, []
    for c in LOGISTIC_C if can_choose else (DEFAULT_C,):
        model = LogisticRegression(C=c, max_iter=5000, random_state=seed)
        model.fit(matrix[train], labels[train])
        val_auc = (
            _auc(labels[validation], model.predict_proba(matrix[validation])[:, 1])
            if can_choose
            else float("nan")
        )
        tried.append({"C": c, "val_auc": val_auc})
        if best is None or val_auc > best[1]:
            best = (model, val_auc, c)
    model, _, c = best
    entry = _score(lambda rows: model.predict_proba(matrix[rows])[:, 1], labels, splits, started)
    entry["settings"] = {
        "C": c,
        "selected_on": "validation" if can_choose else "default",
        "tried": tried,
    }
    return entry


def _fit_lightgbm(
    features: BaselineFeatures, labels: np.ndarray, splits: np.ndarray, seed: int
) -> dict[str, Any]:
    """LightGBM for each of :data:`NUM_LEAVES`, stopped early, the best on validation AUC.

    Boosting stops when :data:`PATIENCE` rounds pass without a lower validation log loss (at most
    :data:`MAX_TREES`) and keeps the best round. Log loss, not AUC: the AUC of the first few
    rounds jumps with the noise of a few hundred validation sessions, and stopping on it kept 2 to
    19 trees on a third of the synthetic logs (test AUC down to 0.61, against 0.64 at worst on log
    loss). A leaf holds at least 1 % of the training sessions (20 or more). Without both classes
    in validation nothing can be chosen: :data:`DEFAULT_TREES` trees of the fewest leaves.
    """
    import lightgbm

    started = time.perf_counter()
    train, validation = splits == "train", splits == "validation"
    matrix = features.for_trees()  # (S, F)
    params = TREE_PARAMS | {
        "min_child_samples": max(20, int(train.sum()) // 100),
        "num_threads": 1,  # a second thread cost more than it saved on a busy 2-core machine
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "verbose": -1,
    }
    train_set = lightgbm.Dataset(matrix[train], label=labels[train], free_raw_data=False)
    can_choose = _has_both(labels[validation])
    valid_set = (
        lightgbm.Dataset(matrix[validation], label=labels[validation], reference=train_set)
        if can_choose
        else None
    )
    best, tried = None, []
    for leaves in NUM_LEAVES if can_choose else NUM_LEAVES[:1]:
        booster = _boost(lightgbm, params | {"num_leaves": leaves}, train_set, valid_set)
        trees = booster.best_iteration or booster.current_iteration()
        val_auc = (
            _auc(labels[validation], booster.predict(matrix[validation], num_iteration=trees))
            if can_choose
            else float("nan")
        )
        tried.append({"num_leaves": leaves, "trees": trees, "val_auc": val_auc})
        if best is None or val_auc > best[1]:
            best = (booster, val_auc, leaves, trees)
    booster, _, leaves, trees = best
    entry = _score(
        lambda rows: booster.predict(matrix[rows], num_iteration=trees), labels, splits, started
    )
    entry["settings"] = {
        "num_leaves": leaves,
        "trees": trees,
        **{key: params[key] for key in SETTINGS_REPORTED},
        "max_trees": MAX_TREES if can_choose else DEFAULT_TREES,
        "patience": PATIENCE if can_choose else None,
        "selected_on": "validation" if can_choose else "default",
        "tried": tried,
    }
    return entry


def _boost(lightgbm: Any, params: dict, train_set: Any, valid_set: Any) -> Any:
    """One booster: stopped early on the validation log loss, or :data:`DEFAULT_TREES` rounds
    when there is no validation set to stop on."""
    if valid_set is None:
        return lightgbm.train(params, train_set, num_boost_round=DEFAULT_TREES)
    stop = lightgbm.early_stopping(PATIENCE, first_metric_only=True, verbose=False)
    return lightgbm.train(
        params | {"metric": "binary_logloss"},
        train_set,
        num_boost_round=MAX_TREES,
        valid_sets=[valid_set],
        callbacks=[stop],
    )


def _score(
    predict: Callable[[np.ndarray], np.ndarray],
    labels: np.ndarray,
    splits: np.ndarray,
    started: float,
) -> dict[str, Any]:
    """Metrics of a fitted model from ``predict(rows) -> probabilities``, and its test scores.

    ``fit_seconds`` runs from ``started`` to now: the whole search, every setting tried.
    """
    fit_seconds = time.perf_counter() - started
    scores = {}
    for split in ("validation", "test"):
        rows = splits == split
        scores[split] = np.asarray(predict(rows) if rows.any() else [], dtype=np.float64)
    return {
        "test_auc": _auc(labels[splits == "test"], scores["test"]),
        "val_auc": _auc(labels[splits == "validation"], scores["validation"]),
        "test_pr_auc": _pr_auc(labels[splits == "test"], scores["test"]),
        "fit_seconds": float(fit_seconds),
        "test_scores": scores["test"],  # (S_test,)
    }


def _has_both(labels: np.ndarray) -> bool:
    return len(np.unique(labels)) == 2


def _auc(labels: np.ndarray, probability: np.ndarray) -> float:
    """ROC AUC, or NaN when ``labels`` does not hold both classes."""
    from sklearn.metrics import roc_auc_score

    if not _has_both(labels):
        return float("nan")
    return float(roc_auc_score(labels, probability))


def _pr_auc(labels: np.ndarray, probability: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve), NaN without both classes."""
    from sklearn.metrics import average_precision_score

    if not _has_both(labels):
        return float("nan")
    return float(average_precision_score(labels, probability))
