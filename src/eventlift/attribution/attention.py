"""Attention as attribution: where ``[CLS]`` looks, in the last layer or rolled out.

Attention weights say where information is read from, not what it does to the logit: the scores
are non-negative shares and cannot say whether an event raises or lowers the conversion odds.
They are offered because they are cheap (one forward pass) and familiar; the faithfulness
scorecard tells how far they can be trusted on a given model.
"""

from __future__ import annotations

import torch
from torch import Tensor

from eventlift.attribution.base import Attributor, BatchScores

__all__ = ["AttentionRollout", "AttentionWeights"]


def _attention(attributor: Attributor, batch: dict[str, Tensor]) -> tuple[list[Tensor], Tensor]:
    """Per-layer attention averaged over heads, each (B, T+1, T+1), and the logits (B,)."""
    with torch.no_grad():
        inputs = attributor.model.embed(batch)  # (B, T, D)
        logits, weights = attributor.model.logits_from_embeddings(
            inputs, batch["keep"], need_weights=True
        )
    return [layer.mean(dim=1) for layer in weights], logits


class AttentionWeights(Attributor):
    """Last layer's ``[CLS]`` → event attention, averaged over heads.

    Scores are in [0, 1]; over the events of a session they sum to 1 minus the weight ``[CLS]``
    gives itself. Padding is masked out of the attention and scores 0.
    """

    name = "attention"
    low_precision_ok = True

    def attribute(self, batch: dict[str, Tensor]) -> BatchScores:
        layers, logits = _attention(self, batch)
        scores = layers[-1][:, 0, 1:] * batch["keep"]  # (B, T)
        return BatchScores(scores, logits)


class AttentionRollout(Attributor):
    """Attention rollout: attention propagated through the layers with the residual path.

    Each layer's head-averaged attention ``A`` becomes ``(A + I)`` with rows renormalised to 1 (half
    of each token is carried by the residual connection), and the layers are multiplied from the
    first to the last: ``R = Â_L ⋯ Â_1``. The score of event i is ``R[CLS, i]``; the row of ``R``
    over ``[CLS]`` and the events sums to 1. Abnar & Zuidema, "Quantifying Attention Flow in
    Transformers" (2020), arXiv:2005.00928.
    """

    name = "attention_rollout"
    low_precision_ok = True

    def attribute(self, batch: dict[str, Tensor]) -> BatchScores:
        layers, logits = _attention(self, batch)
        identity = torch.eye(layers[0].shape[-1], dtype=layers[0].dtype, device=logits.device)
        rollout = None
        for attention in layers:
            mixed = attention + identity  # (B, T+1, T+1)
            mixed = mixed / mixed.sum(dim=-1, keepdim=True)
            rollout = mixed if rollout is None else mixed @ rollout
        scores = rollout[:, 0, 1:] * batch["keep"]  # (B, T)
        return BatchScores(scores, logits)
