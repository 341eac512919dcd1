"""Models whose attributions are known: a linear readout with closed-form scores, and a random
encoder whose logit is far from linear in its inputs."""

from __future__ import annotations

import torch

from eventlift.config import ModelConfig
from eventlift.data.encode import EncodedSessions
from eventlift.model.transformer import EventTransformer
from support.logs import vocab_sizes

__all__ = ["MAX_LEN", "LinearReadout", "transformer"]

MAX_LEN = 12  # sessions of the attribution tests: encode_log(..., max_len=MAX_LEN)


class LinearReadout(EventTransformer):
    """logit = Σ_i w · x_i over real events: every attribution method has a closed-form answer."""

    def __init__(self, vocab_sizes: dict[str, int], max_len: int) -> None:
        config = ModelConfig(d_model=8, n_heads=2, n_layers=1, d_ff=8)
        super().__init__(config, vocab_sizes, max_len)
        self.readout = torch.nn.Parameter(torch.randn(8))

    def logits_from_embeddings(self, x, keep, need_weights=False, *, per_member=False):
        logits = ((x @ self.readout) * keep).sum(dim=1)
        return (logits[None] if per_member else logits), []


def transformer(
    encoded: EncodedSessions, seed: int, n_layers: int = 2, max_len: int = MAX_LEN
) -> EventTransformer:
    """A random encoder with unit-scale embeddings, so the logit is far from linear in them."""
    torch.manual_seed(seed)
    model = EventTransformer(
        ModelConfig(d_model=16, n_heads=2, n_layers=n_layers, d_ff=32, dropout=0.0),
        vocab_sizes(encoded),
        max_len,
    )
    (member,) = model.members
    for embedding in (member.event_embedding, member.store_embedding, member.position_embedding):
        torch.nn.init.normal_(embedding.weight, std=1.0)
    return model.eval()
