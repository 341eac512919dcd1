"""Predicted probabilities that mean what they say: calibration on the validation split.

A Transformer trained with early stopping on AUC ranks sessions well but need not give
probabilities that match observed rates: seed averaging, dropout, weight decay and the class
balance all move them. Every figure stated in conversions (the signed effects, an experiment's
expected uplift) multiplies such probabilities, so they are calibrated on the validation split,
which training used only to stop:

- ``temperature``: ``p = σ(z / T)``, one parameter, keeps the ranking;
- ``platt``: ``p = σ(a·z + b)``, also shifts the base rate, keeps the ranking;
- ``isotonic``: a monotone step function of the logit, the most flexible (ties can merge).

``auto`` (the default) fits each on one half of the validation sessions and scores its log loss on
the other half, both ways round, and keeps the method with the lower mean, refitted on all of
them. The expected calibration error (15 equal-width bins) before and after is measured on the
test split and recorded in the run summary (``calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_METHODS",
    "Calibrator",
    "calibrate",
    "expected_calibration_error",
    "fit_calibrator",
]

CALIBRATION_METHODS = ("temperature", "platt", "isotonic")
ECE_BINS = 15
_EPS = 1e-7


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map from logits to probabilities.

    ``parameters`` holds ``temperature`` (temperature), ``slope`` and ``intercept`` (platt), or
    ``logits`` and ``probabilities``, the knots of a piecewise-linear isotonic map (isotonic);
    ``method = "none"`` is the plain sigmoid.
    """

    method: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``logits`` (any shape), as float64."""
        z = np.asarray(logits, dtype=np.float64)
        if self.method == "temperature":
            return _sigmoid(z / self.parameters["temperature"])
        if self.method == "platt":
            return _sigmoid(self.parameters["slope"] * z + self.parameters["intercept"])
        if self.method == "isotonic":
            knots = np.asarray(self.parameters["logits"], dtype=np.float64)
            values = np.asarray(self.parameters["probabilities"], dtype=np.float64)
            return np.interp(z, knots, values)
        return _sigmoid(z)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **self.parameters}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        values = dict(data)
        return cls(str(values.pop("method", "none")), values)


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean gap between predicted and observed conversion over ``ECE_BINS`` equal-width
    bins of the predicted probability, weighted by the bins' sizes; NaN without sessions."""
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if not len(labels):
        return float("nan")
    bins = np.minimum((probabilities * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    predicted = np.bincount(bins, weights=probabilities, minlength=ECE_BINS)
    observed = np.bincount(bins, weights=labels, minlength=ECE_BINS)
    return float(np.abs(predicted - observed).sum() / len(labels))


def _fit(method: str, logits: np.ndarray, labels: np.ndarray) -> Calibrator:
    from scipy.optimize import minimize

    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        order = np.argsort(z, kind="stable")
        fitted = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip")
        values = fitted.fit_transform(z[order], y[order])
        knots, first = np.unique(z[order], return_index=True)
        return Calibrator(
            method, {"logits": knots.tolist(), "probabilities": values[first].tolist()}
        )

    def loss(theta: np.ndarray) -> float:
        scaled = z * np.exp(theta[0]) + (theta[1] if method == "platt" else 0.0)
        return float(np.mean(np.logaddexp(0.0, scaled) - y * scaled))  # log loss, stable

    start = np.zeros(2 if method == "platt" else 1)
    theta = minimize(loss, start, method="BFGS").x
    if method == "temperature":
        return Calibrator(method, {"temperature": float(np.exp(-theta[0]))})
    return Calibrator(method, {"slope": float(np.exp(theta[0])), "intercept": float(theta[1])})


def _log_loss(calibrator: Calibrator, logits: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(calibrator.probabilities(logits), _EPS, 1 - _EPS)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_calibrator(
    logits: np.ndarray, labels: np.ndarray, method: str, seed: int
) -> tuple[Calibrator, dict[str, float]]:
    """The calibration map fitted on the validation ``logits`` and ``labels``.

    ``method`` is one of :data:`CALIBRATION_METHODS`, ``"auto"`` or ``"none"``. Returns the
    calibrator and, for ``auto``, each method's cross-fitted validation log loss (the choice's
    evidence; empty otherwise). Without both outcomes in validation nothing can be fitted and
    the plain sigmoid is kept.
    """
    labels = np.asarray(labels, dtype=bool)
    if method == "none" or labels.all() or not labels.any():
        return Calibrator("none"), {}
    if method != "auto":
        return _fit(method, logits, labels), {}
    halves = np.random.default_rng(seed).permutation(len(labels)) % 2
    scores = {}
    for name in CALIBRATION_METHODS:
        losses = []
        for fold in (0, 1):
            fit_rows, score_rows = halves != fold, halves == fold
            if labels[fit_rows].all() or not labels[fit_rows].any():
                continue
            fitted = _fit(name, logits[fit_rows], labels[fit_rows])
            losses.append(_log_loss(fitted, logits[score_rows], labels[score_rows]))
        if losses:
            scores[name] = round(float(np.mean(losses)), 5)
    if not scores:
        return _fit("temperature", logits, labels), {}
    best = min(scores, key=scores.__getitem__)
    return _fit(best, logits, labels), scores


def calibrate(
    validation: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    method: str,
    seed: int,
) -> tuple[Calibrator, dict[str, Any]]:
    """Fit on the validation ``(logits, labels)`` and measure on the test ones.

    Returns the calibrator and the run summary's ``calibration`` entry: the method and its
    parameters, the cross-fitted log loss of each method when ``auto`` chose, and the test
    split's expected calibration error and log loss before and after.
    """
    calibrator, evidence = fit_calibrator(*validation, method, seed)
    logits, labels = test
    plain = Calibrator("none")
    entry: dict[str, Any] = {
        **calibrator.to_dict(),
        "requested": method,
        "validation_sessions": len(validation[1]),
        "test_sessions": len(labels),
        "ece_before": round(expected_calibration_error(labels, plain.probabilities(logits)), 5),
        "ece_after": round(expected_calibration_error(labels, calibrator.probabilities(logits)), 5),
    }
    if len(labels) and np.asarray(labels).any() and not np.asarray(labels).all():
        entry["log_loss_before"] = round(_log_loss(plain, logits, labels), 5)
        entry["log_loss_after"] = round(_log_loss(calibrator, logits, labels), 5)
    if evidence:
        entry["validation_log_loss"] = evidence
    if calibrator.method == "isotonic":  # the knots are many; the summary keeps their count
        entry["knots"] = len(entry.pop("logits"))
        entry.pop("probabilities")
    return calibrator, entry
