"""A reproducible sample of sessions, for a quick first look at a large log (``[input]
max_sessions``, ``--sample``).

Whole sessions are kept or dropped, never single events, so every kept session is exactly what
the full run would see. The choice hashes each session id (or user id, when sessions are derived
from an inactivity gap: whole users are kept then) with the seed, salted so that it is
independent of the train/validation/test hash: the sample holds the same split shares as the log.
Like the split, a unit's fate depends only on its key and the seed, so a larger sample of the same
log contains every smaller one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventlift.data.split import hash_unit_interval
from eventlift.exceptions import ConfigError

__all__ = ["sample_sessions"]

SALT = "sample:"  # decorrelates the sample from the split, which hashes the bare keys


def sample_sessions(
    events: pd.DataFrame, max_units: int, seed: int, *, key: str
) -> tuple[pd.DataFrame, int]:
    """Keep the events of at most ``max_units`` distinct values of ``key``.

    Parameters
    ----------
    events
        Canonical event frame.
    max_units
        How many sessions (or users) to keep: those with the smallest salted hash.
    seed
        The run's seed.
    key
        ``"session_id"`` or ``"user_id"``.

    Returns
    -------
    events, dropped
        The kept events (rows with a null key are kept, so that the session rules count them
        under ``null_session_key`` as without sampling) and the number of units left out.
    """
    if max_units <= 0:
        raise ConfigError(f"[input] max_sessions must be positive, got {max_units}.")
    keys = events[key]
    units = pd.Series(keys.dropna().unique()).astype("string")  # distinct first: cheap on codes
    if len(units) <= max_units:
        return events, 0
    score = hash_unit_interval(SALT + units, seed)  # (U,)
    chosen = units.iloc[np.argsort(score, kind="stable")[:max_units]]
    keep = keys.isin(chosen).to_numpy(dtype=bool) | keys.isna().to_numpy()
    return events[keep], len(units) - max_units
