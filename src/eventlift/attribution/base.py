"""The contract every attribution method follows, so all of them feed the same tables."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor

from eventlift.model.transformer import EventTransformer

__all__ = ["Attributor"]


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
    def attribute(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Return signed scores (B, T), zero on padding, and the conversion logits (B,)."""
