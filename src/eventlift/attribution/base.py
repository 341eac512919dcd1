"""The contract every attribution method follows, so all of them feed the same tables."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from torch import Tensor

from eventlift.model.transformer import EventTransformer

__all__ = ["Attributor", "BatchScores"]


@dataclass(frozen=True)
class BatchScores:
    """What a method returns for one batch.

    ``logit_difference`` is set by methods that explain the logit against a baseline
    (integrated gradients: ``logit(x) - logit(baseline)``); their scores should sum to it, and
    :attr:`completeness_gap` says by how much they miss (the quadrature error).
    """

    scores: Tensor  # (B, T) signed scores, zero on padding
    logits: Tensor  # (B,) the conversion logits
    logit_difference: Tensor | None = None  # (B,) against the method's baseline, if it has one

    @property
    def completeness_gap(self) -> Tensor | None:
        """(B,) ``sum_i score_i - logit_difference``; None for methods without a baseline."""
        if self.logit_difference is None:
            return None
        return self.scores.sum(dim=1) - self.logit_difference


class Attributor(ABC):
    """Scores each event of a batch for its share in the session's conversion logit.

    Subclasses set ``name`` (the key used in ``[attribution] method``) and implement
    :meth:`attribute`. The model is used in eval mode; padding never receives a score.
    """

    name: str = ""
    # True where bfloat16 autocast keeps the scores usable: not for gradients or logit
    # differences, whose small values bfloat16's 8-bit mantissa would blur.
    low_precision_ok: bool = False

    def __init__(self, model: EventTransformer) -> None:
        self.model = model

    @abstractmethod
    def attribute(self, batch: dict[str, Tensor]) -> BatchScores:
        """Signed scores (B, T), zero on padding, and the conversion logits (B,) of a batch."""
