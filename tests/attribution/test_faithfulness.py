"""Faithfulness scorecard: curves by hand on a linear model, random references, flags, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from eventlift.attribution import event_type_removal, faithfulness
from eventlift.attribution.faithfulness import FLAG_RATIO
from eventlift.exceptions import ConfigError, DataError
from eventlift.model.batching import make_batch
from support.logs import encode_log, vocab_sizes
from support.models import MAX_LEN, LinearReadout, transformer


@pytest.fixture(scope="module")
def encoded():
    return encode_log(120, seed=3, max_len=MAX_LEN)


@pytest.fixture(scope="module")
def linear(encoded):
    torch.manual_seed(0)
    return LinearReadout(vocab_sizes(encoded), MAX_LEN).eval()


def contributions(model, encoded) -> np.ndarray:
    """w · x_i of every event, zero on padding: (N, MAX_LEN); the logit is their sum."""
    batch = make_batch(encoded, np.arange(len(encoded)), torch.device("cpu"))
    with torch.no_grad():
        values = (model.embed(batch) @ model.readout) * batch["keep"]  # (N, T)
    out = np.zeros((len(encoded), MAX_LEN))
    out[:, : values.shape[1]] = values.numpy()
    return out


def hand_curves(parts: np.ndarray, scores: np.ndarray, lengths: np.ndarray, steps: int):
    """Deletion and insertion curves of a linear model, one session at a time."""
    chosen = np.argsort(-parts.sum(axis=1), kind="stable")[: math.ceil(len(parts) / 2)]
    deletion, insertion = np.zeros(steps + 1), np.zeros(steps + 1)
    for row in chosen:
        n = lengths[row]
        order = sorted(range(n), key=lambda i: (-scores[row, i], i))
        for k in range(steps + 1):
            cut = math.ceil(k * n / steps)
            insertion[k] += sum(parts[row, i] for i in order[:cut])
            deletion[k] += sum(parts[row, i] for i in order[cut:])
    return deletion / len(chosen), insertion / len(chosen)


def test_curves_match_the_hand_computation(encoded, linear):
    parts = contributions(linear, encoded)
    rows = np.arange(len(encoded))
    report = faithfulness(linear, encoded, parts, rows, steps=3, batch_size=17, method="exact")
    deletion, insertion = hand_curves(parts, parts, encoded.lengths, steps=3)
    np.testing.assert_allclose(report.deletion_curve, deletion, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(report.insertion_curve, insertion, rtol=1e-5, atol=1e-5)
    assert report.n_sessions == 60 and report.method == "exact"
    assert report.aopc_deletion == pytest.approx(np.mean(deletion[0] - deletion), rel=1e-5)
    assert report.aopc_insertion == pytest.approx(np.mean(insertion - insertion[0]), rel=1e-5)
    # random orders start and end at the same full and empty sessions
    assert report.random_deletion_curve[0] == pytest.approx(deletion[0], rel=1e-5)
    assert report.random_insertion_curve[-1] == pytest.approx(deletion[0], rel=1e-5)
    assert report.random_deletion_curve[-1] == pytest.approx(0.0, abs=1e-6)


def test_true_order_beats_random_and_reversed_order_falls_below(encoded, linear):
    parts = contributions(linear, encoded)
    rows = np.arange(len(encoded))
    true = faithfulness(linear, encoded, parts, rows)
    reverse = faithfulness(linear, encoded, -parts, rows)
    assert true.ratio_vs_random > 2 * FLAG_RATIO and not true.flagged
    assert reverse.aopc_deletion < reverse.random_aopc_deletion
    assert reverse.ratio_vs_random < 1 and reverse.flagged
    assert true.aopc_insertion > true.random_aopc_insertion > reverse.aopc_insertion
    # the random reference depends on the seed only, not on the scores
    np.testing.assert_allclose(true.random_deletion_curve, reverse.random_deletion_curve)
    other_seed = faithfulness(linear, encoded, parts, rows, seed=1)
    assert not np.allclose(other_seed.random_deletion_curve, true.random_deletion_curve)


def test_a_model_that_ignores_the_events_is_flagged(encoded, linear):
    flat = LinearReadout(vocab_sizes(encoded), MAX_LEN).eval()
    with torch.no_grad():
        flat.readout.zero_()
    parts = contributions(linear, encoded)
    report = faithfulness(flat, encoded, parts, np.arange(len(encoded)), steps=2, n_random=1)
    assert math.isnan(report.ratio_vs_random) and report.flagged
    as_dict = report.to_dict()
    assert as_dict["ratio_vs_random"] is None and as_dict["flagged"] is True
    assert as_dict["fractions"] == [0.0, 0.5, 1.0]
    assert len(as_dict["deletion_curve"]) == 3
    json.dumps(as_dict)


def test_transformer_curves_do_not_depend_on_batch_size_and_mode_is_restored(encoded):
    model = transformer(encoded, 1)
    model.train()
    scores = np.random.default_rng(0).normal(size=(len(encoded), MAX_LEN))
    rows = np.arange(0, len(encoded), 2)
    small = faithfulness(model, encoded, scores, rows, steps=4, n_random=2, batch_size=9)
    whole = faithfulness(model, encoded, scores, rows, steps=4, n_random=2, batch_size=500)
    np.testing.assert_allclose(small.deletion_curve, whole.deletion_curve, rtol=1e-5)
    np.testing.assert_allclose(small.insertion_curve, whole.insertion_curve, rtol=1e-5)
    assert model.training


@pytest.mark.parametrize(
    ("scores", "rows", "options", "error", "message"),
    [
        (np.zeros((5, MAX_LEN)), None, {}, DataError, r"scores must be \(sessions, events\)"),
        (np.zeros((120, 2)), None, {}, DataError, r"got shape \(120, 2\)"),
        (np.full((120, MAX_LEN), np.nan), None, {}, DataError, r"NaN or infinite"),
        (np.zeros((120, MAX_LEN)), np.array([], dtype=int), {}, DataError, r"rows is empty"),
        (np.zeros((120, MAX_LEN)), None, {"steps": 0}, ConfigError, r"steps must be at least 1"),
        (np.zeros((120, MAX_LEN)), None, {"n_random": 0}, ConfigError, r"n_random must be"),
    ],
    ids=["rows-mismatch", "too-narrow", "nan", "no-rows", "steps", "n-random"],
)
def test_bad_arguments_are_explained(encoded, linear, scores, rows, options, error, message):
    rows = np.arange(len(encoded)) if rows is None else rows
    with pytest.raises(error, match=message):
        faithfulness(linear, encoded, scores, rows, **options)


def test_event_type_removal_on_the_linear_model(encoded, linear):
    parts = contributions(linear, encoded)
    rows = np.arange(10, len(encoded))
    table = event_type_removal(linear, encoded, rows, batch_size=16).set_index("event")
    events = encoded.inputs["event"]
    tokens = encoded.vocabularies["event"].tokens
    full = parts.sum(axis=1)
    for token_id in range(2, len(tokens)):
        holding = [row for row in rows if token_id in events[row, : encoded.lengths[row]]]
        if not holding:
            assert tokens[token_id] not in table.index
            continue
        drop = np.array([parts[r][events[r, :MAX_LEN] == token_id].sum() for r in holding])
        before = 1 / (1 + np.exp(-full[holding]))
        after = 1 / (1 + np.exp(-(full[holding] - drop)))
        row = table.loc[tokens[token_id]]
        assert row["n_sessions"] == len(holding)
        assert row["mean_logit_drop"] == pytest.approx(drop.mean(), rel=1e-4, abs=1e-6)
        assert row["mean_probability_drop"] == pytest.approx((before - after).mean(), abs=1e-6)
        assert row["predicted_conversions_drop"] == pytest.approx((before - after).sum(), abs=1e-5)
    assert list(table.columns) == [
        "n_sessions",
        "mean_logit_drop",
        "mean_probability_drop",
        "predicted_conversions_drop",
    ]
    assert table["predicted_conversions_drop"].is_monotonic_decreasing


def test_event_type_removal_does_not_depend_on_batch_size(encoded):
    model = transformer(encoded, 2)
    rows = np.arange(len(encoded))
    small = event_type_removal(model, encoded, rows, batch_size=23)
    whole = event_type_removal(model, encoded, rows, batch_size=1000)
    assert list(small["event"]) == list(whole["event"])
    np.testing.assert_array_equal(small["n_sessions"], whole["n_sessions"])
    np.testing.assert_allclose(small["mean_logit_drop"], whole["mean_logit_drop"], atol=1e-5)
    assert event_type_removal(model, encoded, rows[:0]).empty
