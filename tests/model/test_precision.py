"""``[model] precision = "bfloat16"``: forward-only passes autocast, results stay within tolerance.

The same trained weights are scored in float32 and under bfloat16 autocast ("auto" picks one of
the two by a speed probe). Predictions and
attention scores may move by bfloat16 rounding only (tolerances below); gradient methods and CPU
training are float32 under either setting, so they must be identical.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from eventlift.attribution import attribute_sessions, get_attributor
from eventlift.config import Config
from eventlift.data.prepare import prepare_sessions
from eventlift.model.trainer import classification_metrics, predict_logits, seed_everything, train
from eventlift.model.transformer import EventTransformer, bfloat16_is_faster
from support.logs import random_log


def _config(precision: str) -> Config:
    return Config.from_dict(
        {
            "columns": {"user_id": "user_id", "store_id": "store_id"},
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {
                "d_model": 16,
                "n_heads": 2,
                "n_layers": 2,
                "d_ff": 32,
                "precision": precision,
            },
            "train": {"epochs": 3, "batch_size": 32, "min_count": 1, "learning_rate": 5e-3},
        }
    )


def _fit(config: Config, encoded) -> EventTransformer:
    seed_everything(config.train.seed)
    sizes = {name: len(v) for name, v in encoded.vocabularies.items()}
    model = EventTransformer(config.model, sizes, config.sessions.max_len)
    train(model, encoded, config.train)
    return model


@pytest.fixture(scope="module")
def models():
    """The same weights with float32 and with bfloat16 precision, and the encoded sessions."""
    config = _config("float32")
    _, _, encoded = prepare_sessions(random_log(600), config, "no_funnel")
    full = _fit(config, encoded)
    half = EventTransformer(
        dataclasses.replace(config.model, precision="bfloat16"),
        {name: len(v) for name, v in encoded.vocabularies.items()},
        config.sessions.max_len,
    )
    half.load_state_dict(full.state_dict())
    return full.eval(), half.eval(), encoded


def test_predictions_under_bfloat16_stay_within_tolerance(models):
    full, half, encoded = models
    rows = np.arange(len(encoded))
    exact, rounded = predict_logits(full, encoded, rows), predict_logits(half, encoded, rows)
    assert not np.array_equal(exact, rounded)  # autocast did run
    np.testing.assert_allclose(rounded, exact, atol=0.05 + 0.02 * np.abs(exact).max())
    test = encoded.indices("test")
    auc_full = classification_metrics(encoded.labels[test], exact[test])["auc"]
    auc_half = classification_metrics(encoded.labels[test], rounded[test])["auc"]
    assert auc_full > 0.9
    assert abs(auc_full - auc_half) < 0.005


@pytest.mark.parametrize("method", ["attention", "attention_rollout"])
def test_attention_scores_under_bfloat16_stay_within_tolerance(models, method):
    full, half, encoded = models
    exact = attribute_sessions(get_attributor(method, full), encoded)
    rounded = attribute_sessions(get_attributor(method, half), encoded)
    assert not np.array_equal(exact.raw, rounded.raw)
    np.testing.assert_allclose(rounded.raw, exact.raw, atol=0.02)
    np.testing.assert_allclose(rounded.normalised, exact.normalised, atol=0.02)


@pytest.mark.parametrize("method", ["grad_x_input", "integrated_gradients", "occlusion"])
def test_gradient_and_difference_methods_stay_float32(models, method):
    full, half, encoded = models
    exact = attribute_sessions(get_attributor(method, full), encoded)
    same = attribute_sessions(get_attributor(method, half), encoded)
    np.testing.assert_array_equal(same.raw, exact.raw)


def test_cpu_training_ignores_bfloat16():
    config = _config("float32")
    _, _, encoded = prepare_sessions(random_log(300), config, "no_funnel")
    full = _fit(config, encoded)
    half = _fit(_config("bfloat16"), encoded)
    for (name, a), (_, b) in zip(full.state_dict().items(), half.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_unknown_precision_is_a_config_error():
    from eventlift.exceptions import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        _config("float16")


def test_auto_precision_gives_the_float32_or_the_bfloat16_predictions(models):
    full, half, encoded = models
    auto = EventTransformer(
        dataclasses.replace(full.config, precision="auto"),
        {name: len(v) for name, v in encoded.vocabularies.items()},
        full.max_len,
    )
    auto.load_state_dict(full.state_dict())
    rows = np.arange(len(encoded))
    chosen = predict_logits(auto.eval(), encoded, rows)
    expected = half if bfloat16_is_faster("cpu") else full
    np.testing.assert_array_equal(chosen, predict_logits(expected, encoded, rows))
