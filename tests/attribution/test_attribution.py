"""Gradient × input: exact on a model with a known answer, independent of batching and padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventlift.attribution import attribute_sessions, get_attributor, normalise_scores
from eventlift.config import ModelConfig
from eventlift.exceptions import ConfigError
from eventlift.model.batching import make_batch
from eventlift.model.transformer import EventTransformer
from support.logs import encode_log, vocab_sizes
from support.models import LinearReadout


@pytest.fixture(scope="module")
def encoded():
    return encode_log(120)


def test_linear_readout_matches_hand_computation(encoded):
    torch.manual_seed(0)
    model = LinearReadout(vocab_sizes(encoded), 12).eval()
    result = attribute_sessions(get_attributor("grad_x_input", model), encoded, batch_size=16)
    rows = np.arange(len(encoded))
    batch = make_batch(encoded, rows, torch.device("cpu"))
    with torch.no_grad():
        x = model.embed(batch)  # (N, T, D)
        expected = (x @ model.readout).numpy() * batch["keep"].numpy()
        logits = model.logits_from_embeddings(x, batch["keep"])[0].numpy()
    width = expected.shape[1]
    np.testing.assert_allclose(result.raw[:, :width], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.logits, logits, rtol=1e-5, atol=1e-5)
    # completeness holds for a linear model: scores add up to the logit
    np.testing.assert_allclose(result.raw.sum(axis=1), logits, rtol=1e-4, atol=1e-4)


def test_scores_do_not_depend_on_batch_size_or_padding(encoded):
    torch.manual_seed(1)
    model = EventTransformer(
        ModelConfig(d_model=16, n_heads=2, n_layers=2, d_ff=32), vocab_sizes(encoded), 12
    ).eval()
    attributor = get_attributor("grad_x_input", model)
    whole = attribute_sessions(attributor, encoded, batch_size=len(encoded))
    small = attribute_sessions(attributor, encoded, batch_size=3)
    np.testing.assert_allclose(whole.raw, small.raw, rtol=1e-4, atol=1e-6)
    # the longest session in the batch sets the padding: score each session padded to 12 events
    for row in range(5):
        padded = make_batch(encoded, np.array([row, int(np.argmax(encoded.lengths))]), "cpu")
        scores = attributor.attribute(padded).scores
        length = encoded.lengths[row]
        np.testing.assert_allclose(
            scores[0, :length].numpy(), whole.raw[row, :length], rtol=1e-4, atol=1e-6
        )
        assert torch.all(scores[0, length:] == 0)


def test_normalised_scores_sum_to_one_and_padding_is_zero(encoded):
    torch.manual_seed(2)
    model = EventTransformer(
        ModelConfig(d_model=16, n_heads=2, n_layers=1, d_ff=32), vocab_sizes(encoded), 12
    )
    result = attribute_sessions(get_attributor("grad_x_input", model), encoded)
    np.testing.assert_allclose(result.normalised.sum(axis=1), 1.0, rtol=1e-5)
    padding = np.arange(12)[None, :] >= encoded.lengths[:, None]
    assert np.all(result.raw[padding] == 0) and np.all(result.normalised[padding] == 0)
    assert np.all(result.normalised >= 0)
    assert model.training  # the runner restores the mode it found


def test_all_zero_scores_get_equal_shares():
    shares = normalise_scores(np.zeros((2, 4), dtype=np.float32), np.array([2, 4]))
    np.testing.assert_allclose(shares, [[0.5, 0.5, 0, 0], [0.25] * 4])


def test_unknown_method_names_the_choices(encoded):
    model = EventTransformer(ModelConfig(), vocab_sizes(encoded), 12)
    with pytest.raises(ConfigError, match=r"unknown method 'shap'.*grad_x_input"):
        get_attributor("shap", model)
