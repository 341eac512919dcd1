"""Is the Transformer better than counting? The paired difference of two ROC AUCs, with its
interval.

Both models score the same test sessions, so their AUCs are correlated and their difference must
be judged as a pair: DeLong, DeLong and Clarke-Pearson (1988) give the covariance of two AUCs on
the same sessions from each session's *structural component* (the share of the other class it
outranks). Midranks make the computation one sort per model (Sun and Xu, 2014). The verdict
compares the Transformer with the baseline chosen on the validation split, never on test, so
that picking the stronger baseline does not bias the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

__all__ = ["Z_95", "paired_auc_difference", "verdict_against_baseline"]

Z_95 = float(norm.ppf(0.975))


def paired_auc_difference(
    labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray
) -> dict[str, float]:
    """AUC of ``a`` minus AUC of ``b`` on the same sessions, with DeLong's 95 % interval.

    Parameters
    ----------
    labels : (S,) bool, the sessions' outcomes.
    scores_a, scores_b : (S,) the two models' scores of the same sessions (any monotone scale).

    Returns
    -------
    dict
        ``auc_a``, ``auc_b``, ``difference``, ``standard_error``, ``ci_low``, ``ci_high`` and
        ``n_positive``, ``n_negative``; NaN figures when a class is missing, and a NaN interval
        when a class holds a single session.
    """
    labels = np.asarray(labels, dtype=bool)
    positive, negative = np.flatnonzero(labels), np.flatnonzero(~labels)
    m, n = len(positive), len(negative)
    empty = dict.fromkeys(
        ("auc_a", "auc_b", "difference", "standard_error", "ci_low", "ci_high"), math.nan
    )
    if m == 0 or n == 0:
        return {**empty, "n_positive": m, "n_negative": n}
    scores = np.vstack([np.asarray(scores_a, float), np.asarray(scores_b, float)])  # (2, S)
    v10, v01 = np.empty((2, m)), np.empty((2, n))
    for k in range(2):
        everyone = rankdata(np.r_[scores[k, positive], scores[k, negative]])  # midranks, (m + n,)
        among_positive = rankdata(scores[k, positive])  # (m,)
        among_negative = rankdata(scores[k, negative])  # (n,)
        v10[k] = (everyone[:m] - among_positive) / n  # share of negatives each positive outranks
        v01[k] = 1.0 - (everyone[m:] - among_negative) / m
    auc = v10.mean(axis=1)  # (2,)
    if m > 1 and n > 1:
        s10, s01 = np.cov(v10), np.cov(v01)  # (2, 2) each
        variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m
        variance += (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
        error = math.sqrt(max(float(variance), 0.0))
    else:  # one session of a class: its spread, and so the interval, cannot be estimated
        error = math.nan
    difference = float(auc[0] - auc[1])
    return {
        "auc_a": float(auc[0]),
        "auc_b": float(auc[1]),
        "difference": difference,
        "standard_error": error,
        "ci_low": difference - Z_95 * error,
        "ci_high": difference + Z_95 * error,
        "n_positive": m,
        "n_negative": n,
    }


_NAMES = {"logistic": "logistic regression", "lightgbm": "LightGBM"}
_ENTITIES = {"store_id": "stores", "event_category": "categories"}


def _features(entry: Mapping[str, Any]) -> str:
    """What the baseline counted, from its recorded feature columns: "counts of events, stores
    and categories" on a log with both, "counts of events" on a log with neither."""
    used = (entry.get("settings") or {}).get("features") or {}
    counted = ["events", *(name for key, name in _ENTITIES.items() if used.get(key))]
    listed = counted[0] if len(counted) == 1 else f"{', '.join(counted[:-1])} and {counted[-1]}"
    return f"counts of {listed}"


def verdict_against_baseline(
    labels: np.ndarray,
    transformer_scores: np.ndarray,
    baselines: Mapping[str, Mapping[str, Any]],
    baseline_scores: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """The Transformer against the baseline chosen on validation, on the test sessions.

    ``baselines`` are the run summary's baseline entries (one of them ``chosen``);
    ``baseline_scores`` their test scores, aligned with ``labels`` and ``transformer_scores``.
    Returns the run summary's ``verdict``: the baseline's name, the paired difference and its
    interval, ``better_than_counting`` (the interval lies above zero) and a sentence.
    """
    chosen = next((name for name, entry in baselines.items() if entry.get("chosen")), None)
    if chosen is None or chosen not in baseline_scores:
        return {
            "baseline": None,
            "better_than_counting": None,
            "message": "No baseline was fitted.",
        }
    found = paired_auc_difference(labels, transformer_scores, baseline_scores[chosen])
    low, high = found["ci_low"], found["ci_high"]
    what = f"the {_NAMES.get(chosen, chosen)} baseline ({_features(baselines[chosen])})"
    if math.isnan(found["difference"]):
        better, message = None, "The test split lacks a class: no comparison with the baseline."
    elif math.isnan(found["standard_error"]):
        better = None
        message = (
            f"No verdict against {what}: the test split holds "
            f"{min(found['n_positive'], found['n_negative'])} session of one class, too few for "
            f"an interval (test AUC {found['auc_a']:.3f} against {found['auc_b']:.3f})."
        )
    elif low > 0:
        better = True
        message = (
            f"The Transformer is better than counting on this log: test AUC "
            f"{found['auc_a']:.3f} against {found['auc_b']:.3f} for {what}, a difference of "
            f"{found['difference']:+.3f} (95 % interval {low:+.3f} to {high:+.3f}, DeLong, paired "
            f"over the test sessions)."
        )
    else:
        better = False
        message = (
            f"Not better than counting on this log: the Transformer's test AUC "
            f"{found['auc_a']:.3f} against {found['auc_b']:.3f} for {what}, a difference of "
            f"{found['difference']:+.3f} whose 95 % interval ({low:+.3f} to {high:+.3f}, DeLong, "
            f"paired over the test sessions) includes zero or lies below it. The attribution "
            f"tables explain a model that sees no more than a count of events does: read them "
            f"as descriptions of this model, not as findings."
        )
    return {"baseline": chosen, **found, "better_than_counting": better, "message": message}
