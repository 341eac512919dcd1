"""Calibration recovers a planted miscalibration, measures it honestly, and never fakes a fit."""

from __future__ import annotations

import numpy as np
import pytest

from eventlift.model.calibration import (
    CALIBRATION_METHODS,
    Calibrator,
    calibrate,
    expected_calibration_error,
    fit_calibrator,
)


def _planted(n: int, seed: int, temperature: float = 3.0, shift: float = 0.0):
    """Logits ``z`` whose true probability is ``sigmoid(z / temperature + shift)``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(-1.0, 2.5, size=n)
    truth = 1.0 / (1.0 + np.exp(-(logits / temperature + shift)))
    return logits, rng.random(n) < truth


def test_ece_is_the_binned_gap_between_predicted_and_observed():
    labels = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    probabilities = np.array([0.9, 0.9, 0.05, 0.05, 0.5, 0.5])
    # bins: 0.9 x2 (observed 0.5), 0.05 x2 (observed 0.5), 0.5 x2 (observed 0.5)
    expected = (2 * 0.4 + 2 * 0.45 + 0) / 6
    assert expected_calibration_error(labels, probabilities) == pytest.approx(expected)
    assert expected_calibration_error(labels, labels.astype(float)) == 0.0


def test_temperature_and_platt_recover_the_planted_map():
    logits, labels = _planted(20_000, seed=0, temperature=3.0, shift=0.5)
    temperature, _ = fit_calibrator(logits, labels, "temperature", seed=0)
    platt, _ = fit_calibrator(logits, labels, "platt", seed=0)
    assert platt.parameters["slope"] == pytest.approx(1 / 3, abs=0.03)
    assert platt.parameters["intercept"] == pytest.approx(0.5, abs=0.06)
    assert temperature.parameters["temperature"] > 2.0  # over-confident logits are softened
    test_logits, test_labels = _planted(20_000, seed=1, temperature=3.0, shift=0.5)
    before = expected_calibration_error(test_labels, Calibrator("none").probabilities(test_logits))
    after = expected_calibration_error(test_labels, platt.probabilities(test_logits))
    assert before > 0.1 and after < 0.015


def test_isotonic_is_monotone_and_auto_keeps_the_best_validation_loss():
    logits, labels = _planted(6_000, seed=2)
    isotonic, _ = fit_calibrator(logits, labels, "isotonic", seed=0)
    grid = np.linspace(-10, 10, 200)
    assert (np.diff(isotonic.probabilities(grid)) >= 0).all()
    chosen, evidence = fit_calibrator(logits, labels, "auto", seed=0)
    assert set(evidence) == set(CALIBRATION_METHODS)
    assert chosen.method == min(evidence, key=evidence.__getitem__)


def test_nothing_is_fitted_without_both_outcomes_or_when_switched_off():
    logits = np.linspace(-3, 3, 50)
    for labels, method in ((np.zeros(50, bool), "auto"), (np.ones(50, bool), "platt")):
        assert fit_calibrator(logits, labels, method, seed=0)[0].method == "none"
    assert fit_calibrator(logits, logits > 0, "none", seed=0)[0].method == "none"
    plain = Calibrator("none").probabilities(np.array([0.0, 2.0]))
    assert plain.tolist() == pytest.approx([0.5, 1 / (1 + np.exp(-2.0))])


def test_the_summary_entry_states_the_method_and_both_errors():
    validation, test = _planted(5_000, seed=3), _planted(5_000, seed=4)
    calibrator, entry = calibrate(validation, test, "auto", seed=0)
    assert entry["method"] == calibrator.method and entry["requested"] == "auto"
    assert (entry["validation_sessions"], entry["test_sessions"]) == (5_000, 5_000)
    assert entry["ece_after"] < entry["ece_before"]
    assert entry["log_loss_after"] < entry["log_loss_before"]
    assert (
        round(expected_calibration_error(test[1], calibrator.probabilities(test[0])), 5)
        == entry["ece_after"]
    )
    restored = Calibrator.from_dict(calibrator.to_dict())
    assert np.array_equal(restored.probabilities(test[0]), calibrator.probabilities(test[0]))
