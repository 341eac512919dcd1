"""The model's logit with and without a group of events: the one masking loop that the event-type
removal check (:mod:`eventlift.attribution.faithfulness`) and the signed effects
(:mod:`eventlift.analysis.effects`) both read.

Each session is scored once whole and once per group it holds with that group's events masked
out (the other events keep their positions); the (session, group) pairs are stacked into batched
forward passes over the embeddings computed once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from eventlift.data.encode import EncodedSessions
from eventlift.model.batching import iterate_batches, make_batch
from eventlift.model.transformer import EventTransformer

__all__ = ["MaskedLogits", "masked_group_logits"]


@dataclass(frozen=True)
class MaskedLogits:
    """One entry per (session, group) pair where the session holds the group: ``session``
    (0..S-1, the place among the scored rows), ``group``, ``full`` and ``masked`` logits, each
    ``(P,)`` (float64); ``n_sessions`` is ``S``."""

    session: np.ndarray
    group: np.ndarray
    full: np.ndarray
    masked: np.ndarray
    n_sessions: int


def masked_group_logits(
    model: EventTransformer,
    data: EncodedSessions,
    rows: np.ndarray,
    groups: np.ndarray,
    *,
    batch_size: int = 512,
) -> MaskedLogits:
    """Score each session of ``rows`` whole and without each group it holds.

    ``groups`` ``(len(rows), L)`` gives each event's group id (``-1`` for none), one row per
    entry of ``rows``; padding never counts.
    """
    rows = np.asarray(rows, dtype=np.int64)
    place = np.full(len(data), -1, dtype=np.int64)
    place[rows] = np.arange(len(rows))
    device = next(model.parameters()).device
    found: list[tuple[np.ndarray, ...]] = []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch_rows in iterate_batches(data.lengths, rows, batch_size):
            batch = make_batch(data, batch_rows, device)
            keep = batch["keep"]  # (B, T)
            ids = groups[place[batch_rows], : keep.shape[1]].astype(np.int64)
            group = torch.from_numpy(ids).to(device)
            group = torch.where(keep, group, torch.full_like(group, -1))
            n_groups = int(group.max()) + 1
            if n_groups <= 0:
                continue
            inputs = model.embed(batch)  # (B, T, D)
            full, _ = model.logits_from_embeddings(inputs, keep)  # (B,)
            present = torch.zeros(len(batch_rows), n_groups, dtype=torch.bool, device=device)
            held = group >= 0
            present[torch.nonzero(held, as_tuple=True)[0], group[held]] = True
            session, chosen = torch.nonzero(present, as_tuple=True)  # (P,), (P,)
            whole = full.double().cpu().numpy()  # (B,)
            for start in range(0, len(session), batch_size):
                pair_session = session[start : start + batch_size]
                pair_group = chosen[start : start + batch_size]
                masked_keep = keep[pair_session] & (group[pair_session] != pair_group[:, None])
                masked, _ = model.logits_from_embeddings(inputs[pair_session], masked_keep)
                sessions = pair_session.cpu().numpy()
                found.append(
                    (
                        place[batch_rows[sessions]],
                        pair_group.cpu().numpy(),
                        whole[sessions],
                        masked.double().cpu().numpy(),
                    )
                )
    model.train(was_training)
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return MaskedLogits(empty, empty, np.zeros(0), np.zeros(0), len(rows))
    session, group, full_logits, masked_logits = (
        np.concatenate(parts) for parts in zip(*found, strict=True)
    )
    return MaskedLogits(session, group, full_logits, masked_logits, len(rows))
