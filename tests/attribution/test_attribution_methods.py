"""Integrated gradients, attention, rollout, occlusion: known answers, Captum, batching, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eventlift.attribution import (
    METHODS,
    AttentionRollout,
    AttentionWeights,
    GradientXInput,
    IntegratedGradients,
    Occlusion,
    attribute_sessions,
    get_attributor,
)
from eventlift.config import Config
from eventlift.exceptions import ConfigError
from eventlift.model.batching import make_batch
from support.logs import encode_log, vocab_sizes
from support.models import MAX_LEN, LinearReadout, transformer


@pytest.fixture(scope="module")
def encoded():
    return encode_log(120, max_len=MAX_LEN)


def whole_batch(encoded):
    return make_batch(encoded, np.arange(len(encoded)), torch.device("cpu"))


def test_registry_names_every_method(encoded):
    assert list(METHODS) == [
        "grad_x_input",
        "integrated_gradients",
        "attention",
        "attention_rollout",
        "occlusion",
    ]
    model = transformer(encoded, 0)
    assert isinstance(get_attributor("occlusion", model), Occlusion)
    with pytest.raises(ConfigError, match=r"unknown method 'lime'.*attention_rollout.*occlusion"):
        get_attributor("lime", model)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: IntegratedGradients(m, 0), r"steps must be at least 1 .*got 0"),
        (
            lambda m: IntegratedGradients(m, 1, method="riemann_trapezoid"),
            r"at least 2 for riemann_trapezoid",
        ),
        (lambda m: IntegratedGradients(m, method="simpson"), r"unknown method 'simpson'"),
        (lambda m: IntegratedGradients(m, internal_batch_size=0), r"internal_batch_size"),
        (lambda m: Occlusion(m, internal_batch_size=0), r"internal_batch_size must be positive"),
    ],
    ids=["ig-steps", "ig-trapezoid-steps", "ig-method", "ig-chunk", "occlusion-chunk"],
)
def test_bad_settings_are_config_errors(encoded, make, message):
    with pytest.raises(ConfigError, match=message):
        make(transformer(encoded, 0))


def test_linear_readout_integrated_gradients_and_occlusion_are_exact(encoded):
    torch.manual_seed(3)
    model = LinearReadout(vocab_sizes(encoded), MAX_LEN).eval()
    batch = whole_batch(encoded)
    keep = batch["keep"].numpy()
    with torch.no_grad():
        x = model.embed(batch)  # (N, T, D)
        (member,) = model.members
        baseline = member.position_embedding.weight[: x.shape[1]] + member.gap_embedding.weight[0]
        grad_x_input = (x @ model.readout).numpy() * keep  # (N, T)
        baseline_term = (baseline @ model.readout).numpy()[None, :] * keep  # (N, T)
    integrated = IntegratedGradients(model, steps=3)
    found = integrated.attribute(batch)
    np.testing.assert_allclose(
        found.scores.numpy(), grad_x_input - baseline_term, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(found.completeness_gap.numpy(), 0.0, atol=1e-5)
    occluded = Occlusion(model).attribute(batch).scores
    np.testing.assert_allclose(occluded.numpy(), grad_x_input, rtol=1e-5, atol=1e-5)


def test_integrated_gradients_completeness_gap_shrinks_with_steps(encoded):
    model = transformer(encoded, 4)
    batch = whole_batch(encoded)
    gaps = {}
    for steps in (2, 32):
        integrated = IntegratedGradients(model, steps, method="riemann_trapezoid")
        found = integrated.attribute(batch)
        difference = found.logit_difference
        np.testing.assert_allclose(
            (found.scores.sum(dim=1) - difference).numpy(), found.completeness_gap.numpy()
        )
        gaps[steps] = float(found.completeness_gap.abs().mean() / difference.abs().mean())
    assert gaps[2] > 0.02  # the function is curved: a two-point rule misses
    assert gaps[32] < gaps[2] / 20
    default = IntegratedGradients(model)  # Gauss-Legendre, 32 steps
    found = default.attribute(batch)
    gap, difference = found.completeness_gap, found.logit_difference
    assert gap.abs().mean() < 1e-3 * difference.abs().mean()


def test_integrated_gradients_match_captum(encoded):
    from captum.attr import IntegratedGradients as CaptumIntegratedGradients

    model = transformer(encoded, 5)
    batch = make_batch(encoded, np.arange(40), torch.device("cpu"))
    ours = IntegratedGradients(model, steps=16)
    inputs = model.embed(batch).detach()
    baseline = ours.baseline(batch).detach()

    def forward(x, keep):
        return model.logits_from_embeddings(x, keep)[0]

    # Captum's trapezoid weights are 1/n with halved ends, summing to (n - 1) / n instead of 1
    # over n points spaced 1 / (n - 1): its scores are ours times (n - 1) / n.
    for method, factor in (("gausslegendre", 1.0), ("riemann_trapezoid", 15 / 16)):
        ours.method = method
        scores = ours.attribute(batch).scores
        captum = CaptumIntegratedGradients(forward).attribute(
            inputs,
            baselines=baseline,
            additional_forward_args=(batch["keep"],),
            n_steps=16,
            method=method,
        )  # (B, T, D)
        expected = (captum.sum(dim=-1) * batch["keep"]).detach().numpy()
        np.testing.assert_allclose(scores.numpy() * factor, expected, rtol=1e-4, atol=1e-6)


def test_gradient_x_input_matches_captum(encoded):
    from captum.attr import InputXGradient

    model = transformer(encoded, 6)
    batch = whole_batch(encoded)
    scores = GradientXInput(model).attribute(batch).scores
    inputs = model.embed(batch).detach().requires_grad_(True)
    captum = InputXGradient(lambda x, keep: model.logits_from_embeddings(x, keep)[0]).attribute(
        inputs, additional_forward_args=(batch["keep"],)
    )
    expected = (captum.sum(dim=-1) * batch["keep"]).detach().numpy()
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_occlusion_is_the_logit_drop_of_each_single_deletion(encoded):
    model = transformer(encoded, 7)
    batch = make_batch(encoded, np.arange(6), torch.device("cpu"))
    found = Occlusion(model, internal_batch_size=5).attribute(batch)
    scores, logits = found.scores, found.logits
    with torch.no_grad():
        x = model.embed(batch)
        for session in range(6):
            for event in range(int(encoded.lengths[session])):
                keep = batch["keep"][session : session + 1].clone()
                keep[0, event] = False
                without, _ = model.logits_from_embeddings(x[session : session + 1], keep)
                expected = float(logits[session] - without[0])
                assert float(scores[session, event]) == pytest.approx(expected, abs=1e-5)


def test_attention_is_the_last_layers_cls_row(encoded):
    model = transformer(encoded, 8)
    batch = whole_batch(encoded)
    found = AttentionWeights(model).attribute(batch)
    scores, logits = found.scores, found.logits
    with torch.no_grad():
        weights = model.logits_from_embeddings(model.embed(batch), batch["keep"], True)[1]
    cls_row = weights[-1].mean(dim=1)[:, 0]  # (B, T+1)
    np.testing.assert_allclose(scores.numpy(), cls_row[:, 1:].numpy(), atol=1e-6)
    # the [CLS] row over itself and the events sums to one
    np.testing.assert_allclose((scores.sum(dim=1) + cls_row[:, 0]).numpy(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(logits.numpy(), model(batch).detach().numpy(), atol=1e-4)


def test_rollout_of_one_layer_halves_the_attention(encoded):
    model = transformer(encoded, 9, n_layers=1)
    batch = whole_batch(encoded)
    attention = AttentionWeights(model).attribute(batch).scores
    rollout = AttentionRollout(model).attribute(batch).scores
    # (A + I) / 2 per row: an event's share is half its attention
    np.testing.assert_allclose(rollout.numpy(), attention.numpy() / 2, atol=1e-6)


def test_rollout_multiplies_the_layers(encoded):
    model = transformer(encoded, 10, n_layers=2)
    batch = make_batch(encoded, np.arange(5), torch.device("cpu"))
    rollout = AttentionRollout(model).attribute(batch).scores
    with torch.no_grad():
        weights = model.logits_from_embeddings(model.embed(batch), batch["keep"], True)[1]
    first, second = ((w.mean(dim=1) + torch.eye(w.shape[-1])) / 2 for w in weights)
    expected = (second @ first)[:, 0, 1:] * batch["keep"]
    np.testing.assert_allclose(rollout.numpy(), expected.numpy(), atol=1e-6)
    cls_share = (second @ first)[:, 0, 0]
    np.testing.assert_allclose((rollout.sum(dim=1) + cls_share).numpy(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", list(METHODS))
def test_scores_do_not_depend_on_batching_and_padding_scores_zero(encoded, name):
    model = transformer(encoded, 11)
    attributor = get_attributor(name, model)
    whole = attribute_sessions(attributor, encoded, batch_size=len(encoded))
    small = attribute_sessions(attributor, encoded, batch_size=7)
    np.testing.assert_allclose(whole.raw, small.raw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(whole.logits, small.logits, rtol=1e-4, atol=1e-5)
    padding = np.arange(MAX_LEN)[None, :] >= encoded.lengths[:, None]
    assert np.all(whole.raw[padding] == 0)
    assert np.count_nonzero(whole.raw[~padding]) > 0.9 * np.count_nonzero(~padding)
    if name.startswith("attention"):
        assert np.all(whole.raw >= 0) and np.all(whole.raw.sum(axis=1) < 1 + 1e-5)


def test_internal_chunking_does_not_change_the_scores(encoded):
    model = transformer(encoded, 12)
    batch = make_batch(encoded, np.arange(40), torch.device("cpu"))
    for make in (
        lambda size: IntegratedGradients(model, steps=4, internal_batch_size=size),
        lambda size: Occlusion(model, internal_batch_size=size),
    ):
        at_once = make(100_000).attribute(batch).scores
        # 29: several sessions per block, each block trimmed to its longest; 3: integrated
        # gradients split one session's 4 steps over two blocks
        for size in (29, 3):
            chunked = make(size).attribute(batch).scores
            np.testing.assert_allclose(chunked.numpy(), at_once.numpy(), rtol=1e-4, atol=1e-5)


def test_config_accepts_exactly_the_registered_methods():
    import typing

    from eventlift.attribution import METHODS
    from eventlift.config import AttributionConfig
    from eventlift.exceptions import ConfigError

    allowed = typing.get_args(typing.get_type_hints(AttributionConfig)["method"])
    assert set(allowed) == set(METHODS)
    with pytest.raises(ConfigError, match="method: expected one of 'grad_x_input'"):
        Config.from_dict({"attribution": {"method": "shap"}})
