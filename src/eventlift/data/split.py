"""Deterministic train / validation / test assignment.

A random split hashes each user (or session, when no user is mapped) together with the seed, so a
session's split never depends on which other sessions are in the log, on row order or on the
engine: the local and the Spark path agree, and a re-run on more data keeps old assignments.
A time split orders sessions by their first event and cuts at the configured fractions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from eventlift.data.schema import SPLITS

__all__ = ["assign_splits", "hash_unit_interval"]


def hash_unit_interval(keys: pd.Series, seed: int) -> np.ndarray:
    """Map each key to a reproducible number in [0, 1) that depends only on the key and seed."""
    hash_key = f"eventlift{seed:07d}"[-16:].rjust(16, "0")
    hashed = pd.util.hash_pandas_object(keys.astype("string"), index=False, hash_key=hash_key)
    return (hashed.to_numpy(dtype=np.uint64) >> np.uint64(11)).astype(np.float64) / 2.0**53


def assign_splits(
    sessions: pd.DataFrame,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    method: str = "random",
    by_user: bool = True,
) -> pd.Series:
    """Return the split name of each session, aligned with ``sessions``.

    Parameters
    ----------
    sessions : one row per session with ``session_id``, ``user_id`` and ``start_time``.
    fractions : train, validation and test shares.
    method : ``"random"`` (hash of user or session with the seed) or ``"time"`` (oldest sessions
        train, newest test).
    by_user : keep all sessions of a user in one split (random method, when users are known).
    """
    edges = np.cumsum(fractions)[:2]
    if method == "time":
        order = np.argsort(sessions["start_time"].to_numpy(), kind="stable")
        rank = np.empty(len(sessions), dtype=np.float64)
        rank[order] = (np.arange(len(sessions)) + 0.5) / max(len(sessions), 1)
        unit = rank
    else:
        keys = sessions["session_id"]
        if by_user and sessions["user_id"].notna().all():
            keys = sessions["user_id"]
        unit = hash_unit_interval(keys.reset_index(drop=True), seed)
    codes = np.searchsorted(edges, unit, side="right")
    return pd.Series(np.asarray(SPLITS, dtype=object)[codes], index=sessions.index, name="split")
