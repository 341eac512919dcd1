"""Integrated gradients on the summed event vectors.

For the conversion logit f, the input vectors x (B, T, D) and a baseline x', the score of event i
is ``Σ_d (x - x')_{i,d} ∫_0^1 ∂f/∂x_{i,d}(x' + α (x - x')) dα``. Unlike gradient × input the scores
add up to ``f(x) - f(x')`` (completeness) up to the error of the quadrature, which is recorded.
Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks" (2017), arXiv:1703.01365.

Baseline: the vector the model gives a padding event at the same position, i.e. ``embed`` of a
batch whose event, category, store and gap ids are all 0. Event, category and store id 0 have zero
embeddings, so the baseline of event i is ``position_embedding(i) + gap_embedding(0)`` — exactly
what a padded slot of the same batch receives. The ``keep`` mask is not changed: the baseline
session has as many (neutral) events as the real one, so only what the events *are* is credited,
not how many there are.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from eventlift.attribution.base import Attributor, BatchScores
from eventlift.data.encode import FEATURES
from eventlift.exceptions import ConfigError
from eventlift.model.transformer import EventTransformer

__all__ = ["QUADRATURES", "IntegratedGradients", "quadrature"]

QUADRATURES = ("gausslegendre", "riemann_trapezoid")


def quadrature(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Points α in [0, 1] and weights of a rule integrating over [0, 1]: (steps,), (steps,).

    ``gausslegendre`` is exact for polynomials of degree ``2 * steps - 1`` and is Captum's default;
    ``riemann_trapezoid`` uses equally spaced points including both ends, with weights summing to
    1 (Captum's rule of that name weights them ``1/n``, summing to ``(n - 1)/n``).
    """
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (1.0 + nodes), 0.5 * weights
    alphas = np.linspace(0.0, 1.0, steps)
    weights = np.full(steps, 1.0 / (steps - 1))
    weights[[0, -1]] /= 2
    return alphas, weights


class IntegratedGradients(Attributor):
    """Signed per-event scores that add up to ``logit(x) - logit(baseline)``.

    Parameters
    ----------
    model : the classifier.
    steps : number of points on the path from the baseline to the input.
    method : ``"gausslegendre"`` (default) or ``"riemann_trapezoid"``.
    internal_batch_size : most interpolated sessions in one forward and backward pass; bounds the
        memory to that of one batch of this size whatever ``steps`` and the batch size are.

    :meth:`attribute` returns the logit difference to the baseline with the scores
    (:class:`~eventlift.attribution.base.BatchScores`); the scores' completeness gap against it
    measures the quadrature error: more ``steps`` shrink it.
    """

    name = "integrated_gradients"

    def __init__(
        self,
        model: EventTransformer,
        steps: int = 32,
        *,
        method: str = "gausslegendre",
        internal_batch_size: int = 1024,
    ) -> None:
        super().__init__(model)
        if method not in QUADRATURES:
            raise ConfigError(
                f"integrated gradients: unknown method {method!r}; "
                f"available: {', '.join(QUADRATURES)}."
            )
        minimum = 2 if method == "riemann_trapezoid" else 1
        if steps < minimum:
            raise ConfigError(
                f"integrated gradients: steps must be at least {minimum} for {method}; got {steps}."
            )
        if internal_batch_size < 1:
            raise ConfigError(
                f"integrated gradients: internal_batch_size must be positive; "
                f"got {internal_batch_size}."
            )
        self.steps = steps
        self.method = method
        self.internal_batch_size = internal_batch_size

    def baseline(self, batch: dict[str, Tensor]) -> Tensor:
        """The padding vector of every position of ``batch``: (B, T, D)."""
        neutral = {name: torch.zeros_like(batch[name]) for name in FEATURES}
        return self.model.embed(neutral)

    def attribute(self, batch: dict[str, Tensor]) -> BatchScores:
        keep = batch["keep"]  # (B, T)
        with torch.no_grad():
            inputs = self.model.embed(batch)  # (B, T, D)
            baseline = self.baseline(batch)  # (B, T, D)
            logits, _ = self.model.logits_from_embeddings(inputs, keep)  # (B,)
            baseline_logits, _ = self.model.logits_from_embeddings(baseline, keep)  # (B,)
        difference = inputs - baseline  # (B, T, D)
        alphas, weights = quadrature(self.method, self.steps)
        alphas = torch.as_tensor(alphas, dtype=inputs.dtype, device=inputs.device)  # (S,)
        weights = torch.as_tensor(weights, dtype=inputs.dtype, device=inputs.device)  # (S,)
        integral = torch.zeros_like(inputs)  # (B, T, D): Σ_s w_s ∂f/∂x at α_s
        lengths = keep.sum(dim=1)  # (B,)
        for sessions, steps in self._chunks(lengths):
            width = int(lengths[sessions[-1]])  # the block's longest session comes last
            integral[sessions, :width] += self._weighted_gradients(
                baseline[sessions, :width],
                difference[sessions, :width],
                keep[sessions, :width],
                alphas[steps],
                weights[steps],
            )
        scores = (difference * integral).sum(dim=-1) * keep  # (B, T)
        return BatchScores(scores.detach(), logits.detach(), (logits - baseline_logits).detach())

    def _chunks(self, lengths: Tensor) -> Iterator[tuple[Tensor, slice]]:
        """(sessions, steps) blocks of at most ``internal_batch_size`` interpolated sessions.

        A block takes every step of a few sessions of similar length (all steps of one session
        in turns when ``steps`` alone exceeds the bound), so it is trimmed to its own longest
        session: within a length-bucketed batch, lengths still spread, and the padding a block
        leaves out is work the encoder would otherwise do for nothing.
        """
        steps_per_block = min(self.steps, self.internal_batch_size)
        sessions_per_block = max(1, self.internal_batch_size // steps_per_block)
        by_length = lengths.argsort(stable=True)  # (B,)
        for start in range(0, len(by_length), sessions_per_block):
            sessions = by_length[start : start + sessions_per_block]  # (c,)
            for first in range(0, self.steps, steps_per_block):
                yield sessions, slice(first, first + steps_per_block)

    def _weighted_gradients(
        self, baseline: Tensor, difference: Tensor, keep: Tensor, alphas: Tensor, weights: Tensor
    ) -> Tensor:
        """``Σ_s w_s ∂f/∂x`` at ``baseline + α_s difference`` for c sessions: (c, W, D)."""
        sessions, width, dim = baseline.shape  # (c, W, D); alphas, weights (s,)
        with torch.enable_grad():
            path = baseline + alphas[:, None, None, None] * difference  # (s, c, W, D)
            path = path.reshape(-1, width, dim).requires_grad_(True)  # (s * c, W, D)
            path_keep = keep.repeat(len(alphas), 1)  # (s * c, W)
            path_logits, _ = self.model.logits_from_embeddings(path, path_keep)  # (s * c,)
            (gradient,) = torch.autograd.grad(path_logits.sum(), path)  # (s * c, W, D)
        return torch.einsum("s,scwd->cwd", weights, gradient.view(-1, sessions, width, dim))
