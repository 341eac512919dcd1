"""The sequence classifier: a small post-norm Transformer encoder with a ``[CLS]`` head.

Each event's input vector is the sum of learned embeddings of its token, category, store,
position and bucketed time gap. The model is split in two on purpose: :meth:`embed` builds those
summed vectors and :meth:`logits_from_embeddings` runs the encoder on them, so attribution
methods can differentiate the conversion logit with respect to exactly the vectors they score.
Attention uses ``scaled_dot_product_attention`` (a fused kernel where the device has one). The
head reads only ``[CLS]``, so the last block computes only that row (one query against every key):
the same logit for about half the work of a two-layer model.
"""

from __future__ import annotations

import functools
import logging
import time
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from eventlift.config import ModelConfig

log = logging.getLogger(__name__)

__all__ = ["EventEncoder", "EventTransformer", "bfloat16_is_faster"]


@functools.cache
def bfloat16_is_faster(device_type: str) -> bool:
    """Whether bfloat16 matmuls of the model's size beat float32 on this device (probed once)."""
    if device_type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    generator = torch.Generator().manual_seed(0)  # leaves the global generator (training) alone
    x, weight = (
        torch.randn(4096, 64, generator=generator),
        torch.randn(192, 64, generator=generator),
    )

    def seconds(dtype: torch.dtype) -> float:
        a, b = x.to(dtype), weight.to(dtype)
        F.linear(a, b)  # warm-up
        started = time.perf_counter()
        for _ in range(5):
            F.linear(a, b)
        return time.perf_counter() - started

    faster = seconds(torch.bfloat16) < seconds(torch.float32)
    log.info("bfloat16 autocast on this CPU: %s", "faster, used" if faster else "slower, not used")
    return faster


class SelfAttention(nn.Module):
    """Multi-head self-attention; can also return the attention weights for inspection."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, keep: Tensor, need_weights: bool = False, cls_only: bool = False):
        """Mix ``x`` (B, T, D); with ``cls_only`` only row 0 asks the queries: (B, 1, D) out."""
        batch, length, width = x.shape  # (B, T, D)
        if cls_only:  # project the one query and every key and value, nothing more
            q = F.linear(x[:, :1], self.qkv.weight[:width], self.qkv.bias[:width])  # (B, 1, D)
            k, v = F.linear(x, self.qkv.weight[width:], self.qkv.bias[width:]).split(width, -1)
        else:
            q, k, v = self.qkv(x).split(width, dim=-1)
        heads, size = self.n_heads, width // self.n_heads
        q = q.view(batch, -1, heads, size).transpose(1, 2)  # (B, H, Q, D/H); k, v (B, H, T, D/H)
        k, v = (t.view(batch, length, heads, size).transpose(1, 2) for t in (k, v))
        mask = keep[:, None, None, :]  # (B, 1, 1, T): True where a key may be attended
        weights = None
        if need_weights:
            scores = q @ k.transpose(-2, -1) / (size**0.5)  # (B, H, Q, T)
            weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            mixed = weights @ v
        else:
            mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        mixed = mixed.transpose(1, 2).reshape(batch, -1, width)  # (B, Q, D)
        return self.out(mixed), weights


class EncoderBlock(nn.Module):
    """Post-norm block: norm(x + attention(x)), then norm(x + feed-forward(x)).

    Post-norm on purpose: a layer norm applied directly to an event's input vector is invariant
    to its scale, so ``x · ∂f/∂x`` through it is zero (Euler's theorem) and gradient × input
    would see almost nothing of the first layer. Here the first attention reads the raw summed
    vectors, so each event's value vector carries its contribution to ``[CLS]`` linearly.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config.d_model, config.n_heads)
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.feed_forward = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
        )
        self.norm_feed_forward = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout_rate)

    def forward(self, x: Tensor, keep: Tensor, need_weights: bool = False, cls_only: bool = False):
        """(B, T, D) -> (B, T, D), or (B, 1, D) for ``[CLS]`` alone with ``cls_only``."""
        attended, weights = self.attention(x, keep, need_weights, cls_only)
        if cls_only:
            x = x[:, :1]
        x = self.norm_attention(x + self.dropout(attended))
        x = self.norm_feed_forward(x + self.dropout(self.feed_forward(x)))
        return x, weights


class EventEncoder(nn.Module):
    """One member of the classifier: embeddings, encoder blocks and a ``[CLS]`` head.

    Parameters
    ----------
    config : model sizes and dropout (``"auto"`` values read as on a large log).
    vocab_sizes : number of ids per categorical input: ``event``, ``category``, ``store``.
    max_len : longest sequence (positions 1..max_len get an embedding each).
    """

    def __init__(self, config: ModelConfig, vocab_sizes: dict[str, int], max_len: int) -> None:
        super().__init__()
        width = config.d_model
        self.event_embedding = nn.Embedding(vocab_sizes["event"], width, padding_idx=0)
        self.category_embedding = nn.Embedding(vocab_sizes["category"], width, padding_idx=0)
        self.store_embedding = nn.Embedding(vocab_sizes["store"], width, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, width)
        self.gap_embedding = nn.Embedding(config.gap_buckets, width)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.input_dropout = nn.Dropout(config.dropout_rate)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layers))
        self.head = nn.Linear(width, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
                if module.padding_idx is not None:
                    nn.init.zeros_(module.weight[module.padding_idx])
        nn.init.normal_(self.cls, std=0.02)

    def embed(self, batch: dict[str, Tensor]) -> Tensor:
        """Summed input vector of every event: (B, T) ids -> (B, T, D)."""
        length = batch["event"].shape[1]
        positions = torch.arange(length, device=batch["event"].device)
        return (
            self.event_embedding(batch["event"])
            + self.category_embedding(batch["category"])
            + self.store_embedding(batch["store"])
            + self.gap_embedding(batch["gap"])
            + self.position_embedding(positions)[None]
        )

    def logits_from_embeddings(
        self, x: Tensor, keep: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """Encode summed event vectors (B, T, D) with mask ``keep`` (B, T) -> logits (B,)."""
        batch = x.shape[0]
        hidden = torch.cat([self.cls.expand(batch, -1, -1), x], dim=1)  # (B, T+1, D)
        keep = torch.cat([keep.new_ones(batch, 1), keep], dim=1)  # (B, T+1)
        hidden = self.input_dropout(hidden)
        attention = []
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            # The head reads [CLS] only, so the last block computes that row alone unless the
            # attention maps are wanted: exact, and it removes most of that block's work.
            cls_only = index == last and not need_weights
            hidden, weights = block(hidden, keep, need_weights, cls_only)
            if need_weights:
                attention.append(weights)
        logits = self.head(hidden[:, 0]).squeeze(-1)  # (B,)
        return logits, attention


class EventTransformer(nn.Module):
    """Conversion classifier over event sequences: the mean logit of one or more members.

    Members (``[model] members``) are encoders of the same shape started from different draws
    of the seeded generator and trained side by side on the same batches, each on its own loss
    (:func:`eventlift.model.trainer.train`): a seed average that lowers the variance of small
    logs' models. To attribution the members look like one model whose event vectors are the
    members' vectors side by side, (B, T, members x D): the mean logit is a sum over members,
    so gradient x input and integrated gradients of the ensemble are the mean of the members'.

    Parameters
    ----------
    config : model sizes, dropout and members (``"auto"`` values read as on a large log).
    vocab_sizes : number of ids per categorical input: ``event``, ``category``, ``store``.
    max_len : longest sequence (positions 1..max_len get an embedding each).
    """

    def __init__(self, config: ModelConfig, vocab_sizes: dict[str, int], max_len: int) -> None:
        super().__init__()
        self.config = config
        self.max_len = max_len
        self.vocab_sizes = {name: int(size) for name, size in vocab_sizes.items()}
        self.members = nn.ModuleList(
            EventEncoder(config, vocab_sizes, max_len) for _ in range(config.member_count)
        )

    def autocast(self, *, backward: bool = False) -> AbstractContextManager:
        """The precision context of one pass: bfloat16 autocast or nothing (float32).

        ``[model] precision``: ``"float32"`` never autocasts; ``"bfloat16"`` autocasts
        forward-only passes on any device and training passes on CUDA; ``"auto"`` does the same
        where bfloat16 is faster (CUDA with bfloat16 support, or a CPU on which a one-off probe
        finds bfloat16 matmuls faster than float32 ones; CPUs without native bfloat16 emulate it
        many times slower). Backward passes stay float32 on CPUs: their bfloat16 kernels were
        slower than float32 ones wherever measured.
        """
        device = self.members[0].cls.device
        precision = self.config.precision
        if precision == "float32" or (backward and device.type != "cuda"):
            return nullcontext()
        if precision == "auto" and not bfloat16_is_faster(device.type):
            return nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def embed(self, batch: dict[str, Tensor]) -> Tensor:
        """Summed input vectors of every event, the members' side by side: (B, T, members x D)."""
        if len(self.members) == 1:
            return self.members[0].embed(batch)
        return torch.cat([member.embed(batch) for member in self.members], dim=-1)

    def logits_from_embeddings(
        self, x: Tensor, keep: Tensor, need_weights: bool = False, *, per_member: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """Encode summed event vectors (B, T, members x D) with mask ``keep`` (B, T) -> logits.

        Logits are the members' mean (B,), or each member's (members, B) with ``per_member``.
        Also returns each layer's attention weights (B, H, T+1, T+1), the members' mean, when
        ``need_weights``; index 0 along the last two axes is ``[CLS]``.
        """
        if len(self.members) == 1:
            logits, attention = self.members[0].logits_from_embeddings(x, keep, need_weights)
            return (logits[None] if per_member else logits), attention
        outputs = [
            member.logits_from_embeddings(part, keep, need_weights)
            for member, part in zip(self.members, x.chunk(len(self.members), dim=-1), strict=True)
        ]
        logits = torch.stack([member_logits for member_logits, _ in outputs])  # (members, B)
        attention = [
            torch.stack(layer).mean(dim=0)
            for layer in zip(*(maps for _, maps in outputs), strict=True)
        ]
        return (logits if per_member else logits.mean(dim=0)), attention

    def forward(self, batch: dict[str, Tensor], *, per_member: bool = False) -> Tensor:
        """Conversion logit of each session in ``batch`` -> (B,), or (members, B)."""
        logits, _ = self.logits_from_embeddings(
            self.embed(batch), batch["keep"], per_member=per_member
        )
        return logits
