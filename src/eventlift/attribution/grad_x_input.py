"""Gradient × input on the summed event vectors.

For the conversion logit f and the input vector x_i of event i (the sum of its embeddings), the
signed score is ``raw_i = Σ_d x_{i,d} ∂f/∂x_{i,d}``: a first-order estimate of how much of the
logit event i carries. Shrikumar et al., "Not Just a Black Box" (2016), arXiv:1605.01713.

In eval mode a session's logit depends only on its own events, so one backward pass of the summed
logits of a batch gives every session's gradient at once.
"""

from __future__ import annotations

import torch
from torch import Tensor

from eventlift.attribution.base import Attributor, BatchScores

__all__ = ["GradientXInput"]


class GradientXInput(Attributor):
    """Signed per-event scores ``x · ∂logit/∂x``; one forward and one backward per batch."""

    name = "grad_x_input"

    def attribute(self, batch: dict[str, Tensor]) -> BatchScores:
        with torch.enable_grad():
            inputs = self.model.embed(batch).detach().requires_grad_(True)  # (B, T, D)
            logits, _ = self.model.logits_from_embeddings(inputs, batch["keep"])  # (B,)
            (gradient,) = torch.autograd.grad(logits.sum(), inputs)  # (B, T, D)
        scores = (inputs * gradient).sum(dim=-1) * batch["keep"]  # (B, T)
        return BatchScores(scores.detach(), logits.detach())
