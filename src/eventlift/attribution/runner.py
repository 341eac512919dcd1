"""Run an attribution method over many sessions, batched by length, normalise the scores and lay
them out one row per event."""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from eventlift.attribution.base import Attributor
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.encode import EncodedSessions
from eventlift.data.schema import EVENT_LEVEL_COLUMNS, SESSION_LENGTH, SPLITS
from eventlift.data.sessions import SessionData
from eventlift.model.batching import iterate_batches, make_batch

__all__ = ["AttributionResult", "attribute_sessions", "event_level_frame", "normalise_scores"]


@dataclass
class AttributionResult:
    """Scores aligned with the rows of the encoded sessions.

    ``raw`` and ``normalised`` are (N, max_len) float32 with zeros on padding; ``logits`` is (N,).
    ``probabilities`` (N,) are the calibrated conversion probabilities when the run calibrated
    (:mod:`eventlift.model.calibration`), else None and read as ``sigmoid(logits)``.
    """

    raw: np.ndarray
    normalised: np.ndarray
    logits: np.ndarray
    method: str
    completeness_gap: float | None = None  # mean |Σ scores − Δlogit| / mean |Δlogit|, when defined
    probabilities: np.ndarray | None = None

    def conversion_probabilities(self) -> np.ndarray:
        """The calibrated probabilities, or ``sigmoid(logits)`` where none were set (float64)."""
        if self.probabilities is not None:
            return np.asarray(self.probabilities, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-self.logits.astype(np.float64)))


def normalise_scores(raw: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``|raw_i| / Σ_j |raw_j|`` per session; a session whose scores are all zero gets equal shares.

    Shapes: raw (N, L), lengths (N,) -> (N, L), each row summing to 1 over its real events.
    """
    keep = np.arange(raw.shape[1])[None, :] < lengths[:, None]  # (N, L)
    shares = np.abs(raw).astype(np.float32, copy=False)  # one (N, L) copy, worked on in place
    shares *= keep
    total = shares.sum(axis=1, keepdims=True)  # (N, 1)
    scored = total[:, 0] > 0
    np.divide(shares, total, out=shares, where=scored[:, None])
    blank = ~scored
    shares[blank] = keep[blank] / np.maximum(lengths[blank, None], 1)
    return shares


def attribute_sessions(
    attributor: Attributor,
    data: EncodedSessions,
    rows: np.ndarray | None = None,
    *,
    batch_size: int = 512,
    device: torch.device | None = None,
    progress: Progress = NO_PROGRESS,
) -> AttributionResult:
    """Score every event of ``rows`` (default: all sessions) with ``attributor``, in eval mode."""
    model = attributor.model
    device = device or next(model.parameters()).device
    rows = np.arange(len(data)) if rows is None else np.asarray(rows)
    raw = np.zeros((len(data), data.inputs["event"].shape[1]), dtype=np.float32)
    logits = np.full(len(data), np.nan, dtype=np.float32)
    was_training = model.training
    model.eval()
    n_batches = math.ceil(len(rows) / batch_size)
    gap_total = difference_total = 0.0
    with progress.task(f"attribution ({attributor.name})", n_batches) as advance:
        for batch_rows in iterate_batches(data.lengths, rows, batch_size):
            batch = make_batch(data, batch_rows, device)
            with model.autocast() if attributor.low_precision_ok else nullcontext():
                found = attributor.attribute(batch)
            raw[batch_rows, : found.scores.shape[1]] = found.scores.float().cpu().numpy()
            logits[batch_rows] = found.logits.float().cpu().numpy()
            gap = found.completeness_gap  # methods with a baseline
            if gap is not None:
                gap_total += float(gap.abs().sum())
                difference_total += float(found.logit_difference.abs().sum())
            advance(1)
    model.train(was_training)
    return AttributionResult(
        raw=raw,
        normalised=normalise_scores(raw, data.lengths),
        logits=logits,
        method=attributor.name,
        completeness_gap=gap_total / difference_total if difference_total > 0 else None,
    )


def event_level_frame(
    data: SessionData,
    split: pd.Series,
    attribution: AttributionResult,
    sessions: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per event with its scores, the session's label, prediction and split.

    ``sessions`` (increasing row indices into ``data.sessions``) restricts the frame to those
    sessions, so a split or a chunk is laid out without building every event's row. Text columns
    stay categorical, as in ``data.events``.
    """
    lengths = data.sessions["n_events"].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)])  # (S + 1,) first event row per session
    if sessions is None:
        sessions = np.arange(len(lengths))
    sessions = np.asarray(sessions, dtype=np.int64)
    counts = lengths[sessions]
    row = np.repeat(sessions, counts)  # session row of each chosen event
    rank = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    event_rows = offsets[row] + rank  # (E',) rows of data.events
    col = rank  # 0-based position within the session
    events = data.events.iloc[event_rows]
    probability = attribution.conversion_probabilities()
    frame = events[["session_id", "position", "event", "event_category", "store_id"]].copy()
    frame["store_name"] = events["store_name"]
    frame["timestamp"] = events["timestamp"]
    frame["attribution_raw"] = attribution.raw[row, col].astype(np.float64)
    frame["attribution"] = attribution.normalised[row, col].astype(np.float64)
    frame["converted"] = data.sessions["converted"].to_numpy()[row]
    frame["predicted_probability"] = probability[row]
    split_codes = pd.Categorical(split.to_numpy(), categories=list(SPLITS)).codes  # (S,)
    frame["split"] = pd.Categorical.from_codes(split_codes[row], categories=list(SPLITS))
    frame[SESSION_LENGTH] = lengths[row]
    return frame[[*EVENT_LEVEL_COLUMNS, SESSION_LENGTH]].reset_index(drop=True)
