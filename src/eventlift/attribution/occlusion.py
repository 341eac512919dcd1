"""Occlusion: how much the logit falls when one event is removed.

``score_i = logit(session) - logit(session without event i)``. Removing an event masks it out
(``keep[i] = False``); the other events keep their positions and time gaps, so the only change the
model sees is the missing event. Zeiler & Fergus, "Visualizing and Understanding Convolutional
Networks" (2014), arXiv:1311.2901, applied to tokens rather than image patches.

Every single-event deletion of a batch is one row of a stacked batch, scored in chunks: O(T)
forward passes per batch of sessions, no backward pass, and no Python loop over sessions. The
rows go from the shortest session to the longest, and each chunk is trimmed to its own longest.
"""

from __future__ import annotations

import torch
from torch import Tensor

from eventlift.attribution.base import Attributor, BatchScores
from eventlift.exceptions import ConfigError
from eventlift.model.transformer import EventTransformer

__all__ = ["Occlusion"]


class Occlusion(Attributor):
    """Signed per-event scores: the logit drop when that event alone is masked out.

    Parameters
    ----------
    model : the classifier.
    internal_batch_size : most occluded sessions in one forward pass (bounds the memory).
    """

    name = "occlusion"

    def __init__(self, model: EventTransformer, *, internal_batch_size: int = 4096) -> None:
        super().__init__(model)
        if internal_batch_size < 1:
            raise ConfigError(
                f"occlusion: internal_batch_size must be positive; got {internal_batch_size}."
            )
        self.internal_batch_size = internal_batch_size

    def attribute(self, batch: dict[str, Tensor]) -> BatchScores:
        keep = batch["keep"]  # (B, T)
        lengths = keep.sum(dim=1)  # (B,)
        # One row per real event, sessions from shortest to longest, so a chunk is trimmed to
        # the longest session in it rather than to the batch's.
        by_length = lengths.argsort(stable=True)  # (B,)
        sorted_session, event = torch.nonzero(keep[by_length], as_tuple=True)  # (E,), (E,)
        session = by_length[sorted_session]  # (E,)
        with torch.no_grad():
            inputs = self.model.embed(batch)  # (B, T, D)
            logits, _ = self.model.logits_from_embeddings(inputs, keep)  # (B,)
            occluded = logits.new_zeros(keep.shape)  # (B, T): logit without each event
            for start in range(0, len(session), self.internal_batch_size):
                rows = session[start : start + self.internal_batch_size]  # (C,)
                removed = event[start : start + self.internal_batch_size]  # (C,)
                width = int(lengths[rows[-1]])  # the chunk's longest session comes last
                chunk_keep = keep[rows, :width].clone()  # (C, W)
                chunk_keep[torch.arange(len(rows), device=keep.device), removed] = False
                chunk_logits, _ = self.model.logits_from_embeddings(
                    inputs[rows, :width], chunk_keep
                )
                occluded[rows, removed] = chunk_logits
        scores = (logits[:, None] - occluded) * keep  # (B, T)
        return BatchScores(scores, logits)
