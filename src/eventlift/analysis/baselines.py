"""Simple baselines trained next to the Transformer on the same split.

A Transformer that cannot beat a bag of events is not worth explaining, so every run also fits:

* **logistic** — logistic regression on ``log1p`` bag-of-events counts;
* **lightgbm** — gradient-boosted trees on the counts plus a one-hot of the first and of the last
  event of the session and the session length (the little order information a bag can carry).

Both see the vocabulary of the training split only: tokens that never occur in training are
ignored, as the Transformer maps them to ``<unk>``. Features are built as sparse matrices without a
Python loop per event: a million events take about half a second on two cores.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy import sparse

from eventlift.analysis.frames import require_columns, session_labels
from eventlift.data.schema import SPLITS
from eventlift.exceptions import DataError, format_rows

__all__ = ["fit_baselines"]

logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("session_id", "position", "event")
SESSION_COLUMNS = ("session_id", "converted", "split")
METRIC_KEYS = ("test_auc", "val_auc", "test_pr_auc", "fit_seconds")


def fit_baselines(
    events: pd.DataFrame, sessions: pd.DataFrame, *, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Fit the logistic and LightGBM baselines on the training split and score them.

    Parameters
    ----------
    events
        Processed events, one row per event: ``session_id``, ``position`` (1-based) and ``event``.
        Other columns are ignored; events of sessions absent from ``sessions`` are ignored too.
    sessions
        One row per session: ``session_id``, ``converted`` (bool) and ``split``
        (``"train"``, ``"validation"`` or ``"test"``).
    seed
        Seed of both models, so that the same inputs give the same scores.

    Returns
    -------
    dict
        ``{"logistic": {...}, "lightgbm": {...}}``, each with ``test_auc``, ``val_auc``,
        ``test_pr_auc`` and ``fit_seconds``. A metric whose split lacks one of the two classes is
        NaN; when the training split lacks one, nothing is fitted and every value is NaN.

    Raises
    ------
    MissingColumnError
        A required column is missing from ``events`` or ``sessions``.
    DataError
        Duplicate session ids or an unknown split name in ``sessions``.
    LabelError
        ``converted`` holds missing values.
    """
    require_columns(events, EVENT_COLUMNS, "events")
    require_columns(sessions, SESSION_COLUMNS, "sessions")
    labels, splits = _session_labels(sessions)
    nan_result = dict.fromkeys(METRIC_KEYS, float("nan"))
    train = splits == "train"
    if len(np.unique(labels[train])) < 2:
        logger.warning(
            "Baselines skipped: the training split holds %d sessions and not both classes.",
            int(train.sum()),
        )
        return {"logistic": dict(nan_result), "lightgbm": dict(nan_result)}

    counts, extras = _build_features(events, sessions["session_id"], splits)
    scaled = counts.log1p()  # (S, V)
    boosted = sparse.hstack([counts, extras], format="csr")  # (S, 3V + 1)
    result = {
        "logistic": _fit_and_score(_logistic(seed), scaled, labels, splits),
        "lightgbm": _fit_and_score(_lightgbm(seed), boosted, labels, splits),
    }
    logger.info(
        "Baselines: logistic test AUC %.3f, LightGBM test AUC %.3f (%d features).",
        result["logistic"]["test_auc"],
        result["lightgbm"]["test_auc"],
        boosted.shape[1],
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


def _build_features(
    events: pd.DataFrame, session_ids: pd.Series, splits: np.ndarray
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Build the bag-of-events counts and the order features on the training vocabulary.

    Returns
    -------
    counts
        ``(S, V)`` CSR float64 of event counts per session, rows in the order of ``session_ids``.
    extras
        ``(S, 2V + 1)`` CSR float64: one-hot of the first event, one-hot of the last event, and
        the session length (all its events, seen in training or not).
    """
    n_sessions = len(session_ids)
    rows = _lookup(pd.Index(session_ids), events["session_id"])  # (E,) -1: unknown session
    if isinstance(events["event"].dtype, pd.CategoricalDtype):  # codes as they are
        codes, names = events["event"].cat.codes.to_numpy(), events["event"].cat.categories
    else:
        codes, names = pd.factorize(events["event"])  # (E,) -1: no name, (U,)
    known = rows >= 0
    rows, codes = rows[known], codes[known]  # (E',)
    positions = events["position"].to_numpy()[known]  # (E',)

    # The vocabulary: names seen in training, in alphabetical order so that the columns do not
    # depend on the order of the rows.
    train_codes = np.unique(codes[(splits[rows] == "train") & (codes >= 0)])  # (V,)
    train_codes = train_codes[names.take(train_codes).astype(str).argsort()]
    column_of_code = np.full(len(names) + 1, -1)  # last slot maps the -1 of missing names
    column_of_code[train_codes] = np.arange(len(train_codes))
    columns = column_of_code[codes]  # (E',) -1: unseen in training
    n_tokens = len(train_codes)
    if n_tokens == 0:
        raise DataError(
            "The training split holds no events, so the baselines have no vocabulary; check "
            "that the events frame covers the sessions marked split='train'."
        )
    seen = columns >= 0
    counts = sparse.csr_matrix(
        (np.ones(int(seen.sum())), (rows[seen], columns[seen])), shape=(n_sessions, n_tokens)
    )  # duplicates are summed when the COO triplets become CSR

    step = np.diff(rows)  # a pipeline's events are already by session, then position
    in_order = bool(np.all((step > 0) | ((step == 0) & (np.diff(positions) > 0))))
    if in_order:
        sorted_rows, sorted_columns = rows, columns
    else:
        order = np.lexsort((positions, rows))  # by session, then position
        sorted_rows, sorted_columns = rows[order], columns[order]
    starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])  # (S',)
    ends = np.r_[starts[1:] - 1, len(sorted_rows) - 1]  # (S',)
    first = _one_hot(sorted_rows[starts], sorted_columns[starts], n_sessions, n_tokens)
    last = _one_hot(sorted_rows[ends], sorted_columns[ends], n_sessions, n_tokens)
    length = np.bincount(rows, minlength=n_sessions).astype(np.float64)[:, None]  # (S, 1)
    extras = sparse.hstack([first, last, sparse.csr_matrix(length)], format="csr")
    return counts, extras


def _lookup(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent); a categorical is looked up once
    per category instead of once per event."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_category = np.append(index.get_indexer(values.cat.categories), -1)  # -1: null
        return per_category[values.cat.codes.to_numpy()]
    return index.get_indexer(values)


def _one_hot(
    rows: np.ndarray, columns: np.ndarray, n_rows: int, n_columns: int
) -> sparse.csr_matrix:
    """``(n_rows, n_columns)`` indicator matrix; entries with a column of -1 are left out."""
    seen = columns >= 0
    return sparse.csr_matrix(
        (np.ones(int(seen.sum())), (rows[seen], columns[seen])), shape=(n_rows, n_columns)
    )


def _logistic(seed: int):
    """Logistic regression with enough iterations to converge on ``log1p`` counts."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed)


def _lightgbm(seed: int):
    """LightGBM configured to give the same trees on every run with the same seed.

    One thread: the synchronisation of a second OpenMP thread cost more than it saved on every
    size measured on a busy 2-core machine (up to ten times the fit time), and the fit is a
    few seconds at most next to the Transformer's training.
    """
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=200,
        num_threads=1,
        verbose=-1,
        deterministic=True,
        force_row_wise=True,
        random_state=seed,
    )


def _fit_and_score(
    model, features: sparse.csr_matrix, labels: np.ndarray, splits: np.ndarray
) -> dict[str, float]:
    """Fit ``model`` on the training rows and score validation and test rows."""
    train = splits == "train"
    started = time.perf_counter()
    model.fit(features[train], labels[train])
    fit_seconds = time.perf_counter() - started

    scores = {}
    for split in ("validation", "test"):
        mask = splits == split
        probability = (
            model.predict_proba(features[mask])[:, 1] if mask.any() else np.empty(0)
        )  # (S_split,)
        scores[split] = (labels[mask], probability)
    return {
        "test_auc": _auc(*scores["test"]),
        "val_auc": _auc(*scores["validation"]),
        "test_pr_auc": _pr_auc(*scores["test"]),
        "fit_seconds": float(fit_seconds),
    }


def _auc(labels: np.ndarray, probability: np.ndarray) -> float:
    """ROC AUC, or NaN when ``labels`` does not hold both classes."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, probability))


def _pr_auc(labels: np.ndarray, probability: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve), NaN without both classes."""
    from sklearn.metrics import average_precision_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(average_precision_score(labels, probability))
