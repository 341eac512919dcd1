"""The session window: how much of each session the model sees, decided alike for both classes.

Converted sessions are cut just before the purchase; the others run to their natural end. With
``[sessions] window = "full"`` (the default) the model sees both as they are, and session length
and the last events can carry the label by construction (the run summary's ``session_end``
entry says how much). The other windows remove that cut:

- ``"prefix"``: every session keeps its first ``window_events`` events and/or the events of its
  first ``window_minutes`` minutes, converted or not, so the end of a sequence no longer says
  whether a purchase followed;
- ``"matched"``: each non-converted session is cut at the converted length of the same
  quantile (never lengthened), so both classes end at the same spread of lengths where the
  others ran longer. Ties are spread by a seeded hash of the session id
  (:func:`~eventlift.data.split.hash_unit_interval`), so the cut does not depend on row order
  or on the engine.

Both the local path (:mod:`eventlift.data.sessions`) and the Spark path
(:mod:`eventlift.spark.flags`) call :func:`matched_lengths`; rows past the window are dropped
under the reason ``outside_window``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventlift.config import SessionsConfig
from eventlift.data.split import hash_unit_interval

__all__ = ["LengthReference", "matched_lengths", "prefix_outside"]

_SALT = "window:"  # keeps the draw independent of the split, which hashes the same ids


class LengthReference:
    """The lengths of the converted sessions, as distinct values and cumulative counts: all a
    matched cut needs, small enough to send from a Spark cluster's driver to its executors."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        order = np.argsort(values)
        self.values = np.asarray(values, dtype=np.int64)[order]
        self.cumulative = np.cumsum(np.asarray(counts, dtype=np.int64)[order])

    @classmethod
    def of(cls, converted_lengths: np.ndarray) -> LengthReference:
        values, counts = np.unique(
            np.asarray(converted_lengths, dtype=np.int64), return_counts=True
        )
        return cls(values, counts)


def matched_lengths(
    lengths: np.ndarray,
    converted: np.ndarray,
    session_ids: pd.Series,
    references: tuple[LengthReference, LengthReference],
    seed: int,
) -> np.ndarray:
    """How many events each session keeps under ``window = "matched"``.

    ``references`` are the lengths of the converted and of the other sessions. A converted
    session keeps all of its events. A non-converted session is mapped by quantile: the one at
    quantile ``q`` of the non-converted lengths (ties spread by the seeded draw) keeps the
    converted length at ``q``, or its own length when that is shorter; so where non-converted
    sessions run longer their lengths come to follow the converted ones, and where the lengths
    already agree little is cut.
    """
    kept = np.asarray(lengths, dtype=np.int64).copy()
    other = ~np.asarray(converted, dtype=bool)
    target, source = references
    if not other.any() or not len(target.values):
        return kept
    own = kept[other]
    at = np.searchsorted(source.values, own)  # each length's place among the other lengths
    below = np.where(at > 0, source.cumulative[np.maximum(at - 1, 0)], 0)
    tied = source.cumulative[at] - below
    keys = (_SALT + session_ids[other].astype("string")).reset_index(drop=True)
    quantile = (below + hash_unit_interval(keys, seed) * tied) / source.cumulative[-1]
    rank = np.floor(quantile * target.cumulative[-1]).astype(np.int64)
    # the first converted length whose cumulative count passes the rank
    index = np.searchsorted(target.cumulative, rank, side="right").clip(max=len(target.values) - 1)
    kept[other] = np.minimum(target.values[index], own)
    return kept


def prefix_outside(
    order: np.ndarray, elapsed_seconds: np.ndarray, config: SessionsConfig
) -> np.ndarray:
    """Per event: past the prefix window (its 0-based ``order`` in the session at or beyond
    ``window_events``, or more than ``window_minutes`` after the session's first event)."""
    outside = np.zeros(len(order), dtype=bool)
    if config.window_events:
        outside |= np.asarray(order) >= config.window_events
    if config.window_minutes:
        outside |= np.asarray(elapsed_seconds, dtype=float) > config.window_minutes * 60.0
    return outside
