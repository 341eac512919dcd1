"""Faithfulness of an attribution, measured against the model itself.

A ranking of events is faithful when removing the top-ranked events first makes the conversion
logit fall faster than removing them in a random order (deletion), and adding them first makes it
rise faster (insertion). The area over the perturbation curve (AOPC; Samek et al., "Evaluating the
visualization of what a Deep Neural Network has learned" (2017), arXiv:1509.06321) summarises each
curve, and a method whose deletion AOPC is not clearly above the random order's is flagged.

Choices, the same for every method so the numbers compare:

* Removing an event masks it out (``keep = False``); the remaining events keep their positions and
  time gaps, so the model sees exactly the session minus the removed events.
* At step k of ``steps``, ``ceil(k * n / steps)`` of a session's n events are removed (inserted),
  so every session moves from all events to none (none to all) over the same fractions.
* A session with every event removed is the model's logit with only ``[CLS]`` unmasked; deletion
  curves end and insertion curves start there.
* Ranks are by descending score (signed scores put the events that raise the logit first;
  normalised ones the largest magnitudes); ties go to the earlier event.
* Curves average the logits of the sessions the model rates most likely to convert: the top half
  of ``rows`` by full logit. Those are the predictions an explanation is read for, and on them
  removing the supporting events must lower the logit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from eventlift.attribution.removal import masked_group_logits
from eventlift.data.encode import EncodedSessions
from eventlift.exceptions import ConfigError, DataError
from eventlift.model.batching import iterate_batches, make_batch
from eventlift.model.trainer import predict_logits
from eventlift.model.transformer import EventTransformer

__all__ = ["FLAG_RATIO", "FaithfulnessReport", "event_type_removal", "faithfulness"]

# A method is flagged when its deletion AOPC is below this multiple of the random order's.
FLAG_RATIO = 1.2


@dataclass
class FaithfulnessReport:
    """Deletion and insertion curves of one method and of random orders, with their AOPCs.

    Curves are (steps + 1,) mean logits at the fractions ``0, 1/steps, …, 1`` of events removed
    (deletion) or inserted (insertion). ``aopc_deletion`` is the mean of ``full - curve`` and
    ``aopc_insertion`` the mean of ``curve - empty``: higher is more faithful for both.
    ``ratio_vs_random = aopc_deletion / random_aopc_deletion`` (``inf`` when the random order does
    not lower the logit but the method does, ``nan`` when neither does); ``flagged`` is True when
    the ratio is not at least :data:`FLAG_RATIO` (``nan`` is flagged).
    """

    method: str
    deletion_curve: np.ndarray
    insertion_curve: np.ndarray
    random_deletion_curve: np.ndarray
    random_insertion_curve: np.ndarray
    aopc_deletion: float
    aopc_insertion: float
    random_aopc_deletion: float
    random_aopc_insertion: float
    ratio_vs_random: float
    flagged: bool
    n_sessions: int = 0

    @property
    def fractions(self) -> np.ndarray:
        """Fraction of each session's events removed or inserted at each point: (steps + 1,)."""
        return np.linspace(0.0, 1.0, len(self.deletion_curve))

    def to_dict(self) -> dict:
        """Plain JSON-ready values: lists for curves, ``None`` for non-finite numbers."""
        out = {}
        for key, value in asdict(self).items():
            if isinstance(value, np.ndarray):
                out[key] = [_finite_or_none(v) for v in value.tolist()]
            elif isinstance(value, float):
                out[key] = _finite_or_none(value)
            else:
                out[key] = value
        out["fractions"] = self.fractions.tolist()
        return out


def faithfulness(
    model: EventTransformer,
    data: EncodedSessions,
    scores: np.ndarray,
    rows: np.ndarray,
    *,
    steps: int = 10,
    n_random: int = 3,
    seed: int = 0,
    batch_size: int = 512,
    method: str = "",
) -> FaithfulnessReport:
    """Deletion and insertion curves of an attribution against ``n_random`` random orders.

    Parameters
    ----------
    model : the classifier the scores explain; run in eval mode, its mode is restored.
    data : the encoded sessions.
    scores : (N, L) scores aligned with the rows of ``data`` (signed or normalised), L at least
        the longest session of ``rows``; only the real events of ``rows`` are read.
    rows : indices of the sessions to evaluate; the top half by full logit is used.
    steps : number of removal (insertion) steps from none to all events.
    n_random : number of seeded random orders averaged for the reference curves.
    seed : seed of the random orders.
    batch_size : sessions per batch; each of the ``steps - 1`` inner steps runs one forward pass
        of ``2 * (1 + n_random) * batch_size`` masked sessions.
    method : name recorded in the report.

    Returns
    -------
    FaithfulnessReport
    """
    rows = np.asarray(rows, dtype=np.int64)
    _check_arguments(data, scores, rows, steps=steps, n_random=n_random, batch_size=batch_size)
    device = next(model.parameters()).device
    full = predict_logits(model, data, rows, batch_size=batch_size, device=device)  # (R,)
    chosen = rows[np.argsort(-full, kind="stable")[: math.ceil(len(rows) / 2)]]
    rng = np.random.default_rng(seed)
    # sums[kind, order, k]: kind 0 deletion, 1 insertion; order 0 the method, then random orders
    sums = np.zeros((2, 1 + n_random, steps + 1), dtype=np.float64)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch_rows in iterate_batches(data.lengths, chosen, batch_size):
            batch = make_batch(data, batch_rows, device)
            width = batch["keep"].shape[1]
            ranked = torch.as_tensor(scores[batch_rows, :width], dtype=torch.float32)
            noise = torch.as_tensor(rng.random((n_random, len(batch_rows), width)))
            ranks = torch.stack([_ranks(s.to(device), batch["keep"]) for s in (ranked, *noise)])
            sums += _curve_sums(model, batch, ranks, steps)
    model.train(was_training)
    curves = sums / len(chosen)  # (2, 1 + n_random, steps + 1)
    deletion, insertion = curves[0, 0], curves[1, 0]
    random_deletion, random_insertion = curves[0, 1:].mean(axis=0), curves[1, 1:].mean(axis=0)
    aopc_deletion = float(np.mean(deletion[0] - deletion))
    random_aopc_deletion = float(np.mean(random_deletion[0] - random_deletion))
    ratio = _ratio(aopc_deletion, random_aopc_deletion)
    return FaithfulnessReport(
        method=method,
        deletion_curve=deletion,
        insertion_curve=insertion,
        random_deletion_curve=random_deletion,
        random_insertion_curve=random_insertion,
        aopc_deletion=aopc_deletion,
        aopc_insertion=float(np.mean(insertion - insertion[0])),
        random_aopc_deletion=random_aopc_deletion,
        random_aopc_insertion=float(np.mean(random_insertion - random_insertion[0])),
        ratio_vs_random=ratio,
        flagged=not ratio >= FLAG_RATIO,
        n_sessions=len(chosen),
    )


def event_type_removal(
    model: EventTransformer, data: EncodedSessions, rows: np.ndarray, *, batch_size: int = 512
) -> pd.DataFrame:
    """What the model loses when every event of one type is masked out of the sessions holding it.

    Each (session, event type) pair of ``rows`` is scored once with all events of that type
    masked out (positions of the others unchanged); pairs are stacked into batched forward passes.

    Returns
    -------
    DataFrame with one row per event token found in ``rows``: ``event`` (the token),
    ``n_sessions`` (sessions holding it), ``mean_logit_drop`` and ``mean_probability_drop`` (means
    over those sessions of full minus masked), and ``predicted_conversions_drop`` (the sum of the
    probability drops: expected conversions lost). Sorted by ``predicted_conversions_drop``,
    largest first.
    """
    rows = np.asarray(rows, dtype=np.int64)
    vocabulary = data.vocabularies.get("event")
    n_tokens = len(vocabulary) if vocabulary is not None else int(data.inputs["event"].max()) + 1
    events = data.inputs["event"][rows].astype(np.int64)  # (S, L); padding is left out there
    pairs = masked_group_logits(model, data, rows, events, batch_size=batch_size)
    count = np.bincount(pairs.group, minlength=n_tokens)
    logit_drop = np.bincount(pairs.group, weights=pairs.full - pairs.masked, minlength=n_tokens)
    probability_drop = np.bincount(
        pairs.group, weights=_sigmoid(pairs.full) - _sigmoid(pairs.masked), minlength=n_tokens
    )
    found = np.flatnonzero(count)
    names = [vocabulary.tokens[i] if vocabulary is not None else str(i) for i in found]
    frame = pd.DataFrame(
        {
            "event": names,
            "n_sessions": count[found],
            "mean_logit_drop": logit_drop[found] / count[found],
            "mean_probability_drop": probability_drop[found] / count[found],
            "predicted_conversions_drop": probability_drop[found],
        }
    )
    frame = frame.sort_values(
        ["predicted_conversions_drop", "event"], ascending=[False, True], kind="stable"
    )
    return frame.reset_index(drop=True)


def _ranks(scores: Tensor, keep: Tensor) -> Tensor:
    """Rank of each event by descending score (0 = first), ties to the earlier event: (B, T)."""
    ordered = scores.masked_fill(~keep, -math.inf)  # padding last
    order = torch.argsort(-ordered, dim=1, stable=True)  # (B, T): event index at each rank
    return torch.argsort(order, dim=1)


def _curve_sums(model: EventTransformer, batch: dict, ranks: Tensor, steps: int) -> np.ndarray:
    """Summed logits of a batch for every (kind, order, step): (2, n_orders, steps + 1).

    ``ranks`` is (n_orders, B, T). Step k keeps the events ranked at or after ``ceil(k n / steps)``
    (deletion) or before it (insertion). The end points are the full and the empty session for
    every order, scored once; each step in between is one forward pass of all kinds and orders.
    """
    keep = batch["keep"]  # (B, T)
    n_orders, n_sessions, width = ranks.shape
    inputs = model.embed(batch)  # (B, T, D)
    ends, _ = model.logits_from_embeddings(
        inputs.repeat(2, 1, 1), torch.cat([keep, torch.zeros_like(keep)])
    )
    full, empty = ends.double().reshape(2, n_sessions).sum(dim=1).tolist()
    sums = np.zeros((2, n_orders, steps + 1), dtype=np.float64)
    sums[0, :, 0] = sums[1, :, steps] = full
    sums[0, :, steps] = sums[1, :, 0] = empty
    stacked = inputs.repeat(2 * n_orders, 1, 1)  # (2 * O * B, T, D)
    lengths = keep.sum(dim=1)  # (B,)
    for k in range(1, steps):
        cut = (k * lengths + steps - 1) // steps  # (B,) events removed or inserted
        inserted = ranks < cut[None, :, None]  # (O, B, T)
        masks = torch.stack([~inserted, inserted]) & keep  # (2, O, B, T)
        logits, _ = model.logits_from_embeddings(stacked, masks.reshape(-1, width))
        sums[:, :, k] = logits.double().reshape(2, n_orders, n_sessions).sum(dim=-1).cpu().numpy()
    return sums


def _ratio(aopc: float, random_aopc: float) -> float:
    if random_aopc > 0:
        return aopc / random_aopc
    return math.inf if aopc > 0 else math.nan


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _check_arguments(
    data: EncodedSessions,
    scores: np.ndarray,
    rows: np.ndarray,
    *,
    steps: int,
    n_random: int,
    batch_size: int,
) -> None:
    for name, value in (("steps", steps), ("n_random", n_random), ("batch_size", batch_size)):
        if value < 1:
            raise ConfigError(f"faithfulness: {name} must be at least 1; got {value}.")
    if len(rows) == 0:
        raise DataError("faithfulness: no sessions to evaluate (rows is empty). Fix: pass rows.")
    longest = int(data.lengths[rows].max())
    if scores.ndim != 2 or scores.shape[0] != len(data) or scores.shape[1] < longest:
        raise DataError(
            f"faithfulness: scores must be (sessions, events) = ({len(data)}, >= {longest}) and "
            f"aligned with the rows of the encoded sessions; got shape {scores.shape}. Fix: pass "
            f"AttributionResult.raw or .normalised of the same sessions."
        )
    real = np.arange(scores.shape[1])[None, :] < data.lengths[rows][:, None]  # (R, L)
    if not np.isfinite(scores[rows][real]).all():
        raise DataError(
            "faithfulness: scores hold NaN or infinite values on real events of the given rows. "
            "Fix: attribute every session in rows first (the runner leaves others at zero)."
        )
