"""The true signed effects of a synthetic log: what removing a group's events does to the
planted conversion probability, to check the model's effects (:mod:`eventlift.analysis.effects`)
against.

The generator writes a session's conversion log-odds as a base plus one additive contribution
per browsing event (its planted effect, damped by position, plus the cost every event carries;
the order bonus sits on the store page load it rewards). Removing a group's events while the
others keep their positions removes their contributions, so the true effect of a group over the
sessions holding it is the mean of ``p - sigmoid(logit(p) - Σ contributions of the group)``,
in percentage points: the quantity ``effect_pp`` estimates with the model in place of the truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from eventlift.data.ground_truth import GroundTruth

__all__ = ["true_removal_effects"]


def true_removal_effects(
    truth: GroundTruth, session_ids: Sequence[str], position_buckets: Sequence[int]
) -> dict[str, pd.Series]:
    """True ``effect_pp`` per event type, per position bucket (by its first position) and per
    store over the given sessions: ``{"event_type": Series by event, "position": Series by
    bucket start, "store": Series by store id}``.

    Event types and buckets no given session holds are absent; funnel steps and the conversion
    carry no contribution and so have no true effect here.
    """
    ids = pd.Index([str(session) for session in session_ids])
    sessions = truth.sessions.assign(session_id=truth.sessions["session_id"].astype(str))
    probability = sessions.set_index("session_id")["probability"].reindex(ids)
    contributions = truth.contributions.assign(
        session_id=truth.contributions["session_id"].astype(str)
    )
    contributions = contributions[contributions["session_id"].isin(ids)]
    edges = np.asarray(position_buckets)
    bucket = edges[np.searchsorted(edges, contributions["position"].to_numpy(), side="right") - 1]
    found = {}
    store = contributions["store_id"].astype("string")
    groupings = (
        ("event_type", contributions["event"].astype(str)),
        ("position", pd.Series(bucket, index=contributions.index)),
        ("store", store),
    )
    for name, key in groupings:
        held = key.notna().to_numpy()  # events without a store have no store to remove
        chosen = contributions[held]
        summed = chosen.groupby([chosen["session_id"], key[held]])["contribution"].sum()
        p = probability.reindex(summed.index.get_level_values(0)).to_numpy(dtype=np.float64)
        logit = np.log(p / (1.0 - p))
        delta = p - 1.0 / (1.0 + np.exp(-(logit - summed.to_numpy())))
        found[name] = 100.0 * pd.Series(delta, index=summed.index).groupby(level=1).mean()
    return found
