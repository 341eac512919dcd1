"""Labelled sessions to padded integer matrices, the model's input.

Sequences are kept as compact integer matrices (sessions × ``max_len``), not Python objects, each
in the smallest integer type its vocabulary fits (``int8`` for the gap buckets and a few dozen
event types): a million sessions of 50 events take about 300 MB. Batches slice them, trim to the
longest session in the batch and widen to ``int64`` on the way to the model. Positions are
implicit (column index + 1); the time gap since the previous event is bucketed on a log2 scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eventlift.data.schema import SPLITS
from eventlift.data.sessions import SessionData
from eventlift.data.vocab import PAD_ID, UNK_ID, Vocabulary

__all__ = [
    "FEATURES",
    "EncodedSessions",
    "build_vocabularies",
    "encode_sessions",
    "gap_bucket",
    "id_dtype",
    "vocabulary_coverage",
]

# Categorical inputs of every event, each with its own vocabulary (except the gap buckets).
FEATURES = ("event", "category", "store", "gap")
_VOCAB_COLUMNS = {"event": "event", "category": "event_category", "store": "store_id"}


@dataclass
class EncodedSessions:
    """Model-ready sessions: (N, max_len) id matrices, right-padded, and per-session arrays."""

    inputs: dict[str, np.ndarray]  # feature -> (N, max_len) int8/int16/int32 ids
    lengths: np.ndarray  # (N,) int64, number of real events
    labels: np.ndarray  # (N,) float32, 1.0 when the session converts
    split: np.ndarray  # (N,) int8 index into SPLITS
    session_ids: np.ndarray  # (N,) object
    vocabularies: dict[str, Vocabulary] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lengths)

    def indices(self, split: str) -> np.ndarray:
        """Row indices of one split (``"train"``, ``"validation"`` or ``"test"``)."""
        return np.flatnonzero(self.split == SPLITS.index(split))


def gap_bucket(gap_seconds: np.ndarray, n_buckets: int) -> np.ndarray:
    """Bucket 0 for a session's first event, then ``1 + floor(log2(1 + gap))`` capped at the top.

    Log buckets keep the distinction between "seconds later" and "minutes later" without letting
    a rare long pause get its own parameter.
    """
    gaps = np.nan_to_num(np.asarray(gap_seconds, dtype=np.float64), nan=0.0)
    buckets = 1 + np.floor(np.log2(1.0 + np.maximum(gaps, 0.0))).astype(np.int64)
    return np.minimum(buckets, n_buckets - 1)


def build_vocabularies(data: SessionData, split: pd.Series, min_count: int) -> dict:
    """Vocabularies of events, categories and stores from the training split only."""
    train_sessions = data.sessions.loc[split.to_numpy() == "train", "session_id"]
    train_events = data.events[data.events["session_id"].isin(train_sessions)]
    return {
        name: Vocabulary.build(train_events[column], min_count=min_count)
        for name, column in _VOCAB_COLUMNS.items()
    }


def encode_sessions(
    data: SessionData,
    split: pd.Series,
    vocabularies: dict[str, Vocabulary],
    *,
    max_len: int,
    gap_buckets: int,
) -> EncodedSessions:
    """Encode every session of ``data`` (sessions and events already in matching order)."""
    sessions, events = data.sessions, data.events
    n = len(sessions)
    row = np.repeat(np.arange(n), sessions["n_events"].to_numpy())  # session index of each event
    col = events["position"].to_numpy() - 1
    inputs = {}
    for name, column in _VOCAB_COLUMNS.items():
        ids = vocabularies[name].encode(events[column])
        inputs[name] = _scatter(ids, row, col, n, max_len, id_dtype(len(vocabularies[name])))
    first = events["position"].to_numpy() == 1
    gaps = np.where(first, 0, gap_bucket(events["gap_seconds"].to_numpy(), gap_buckets))
    inputs["gap"] = _scatter(gaps, row, col, n, max_len, id_dtype(gap_buckets))
    split_codes = pd.Categorical(split.to_numpy(), categories=list(SPLITS)).codes
    return EncodedSessions(
        inputs=inputs,
        lengths=sessions["n_events"].to_numpy(dtype=np.int64),
        labels=sessions["converted"].to_numpy(dtype=np.float32),
        split=split_codes.astype(np.int8),
        session_ids=sessions["session_id"].to_numpy(dtype=object),
        vocabularies=vocabularies,
    )


def vocabulary_coverage(encoded: EncodedSessions) -> dict[str, dict[str, float | int]]:
    """Per vocabulary: the values the model knows, and the share of events that read ``<unk>``.

    Values rarer than ``min_count`` in training share one ``<unk>`` embedding, so the model cannot
    tell them apart: a log of 100,000 stores seen once each gives the model no store at all.
    ``unknown_share`` is over the events that have a value; a vocabulary no event has a value
    for (an unmapped role, such as the store of a log without stores) is left out.
    """
    coverage = {}
    for name, vocabulary in encoded.vocabularies.items():
        ids = encoded.inputs[name]  # (N, max_len)
        present = int(np.count_nonzero(ids != PAD_ID))
        if present:
            coverage[name] = {
                "known_values": len(vocabulary) - 2,  # padding and <unk> aside
                "events_with_value": present,
                "unknown_share": int(np.count_nonzero(ids == UNK_ID)) / present,
            }
    return coverage


def id_dtype(n_ids: int) -> np.dtype:
    """The smallest signed integer type that holds ids ``0 .. n_ids - 1``."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_ids - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _scatter(
    values: np.ndarray, row: np.ndarray, col: np.ndarray, n: int, width: int, dtype: np.dtype
) -> np.ndarray:
    matrix = np.zeros((n, width), dtype=dtype)  # (N, max_len)
    matrix[row, col] = values
    return matrix
