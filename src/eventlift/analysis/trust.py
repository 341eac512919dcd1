"""Checks that say how far to trust a run's attribution: faithfulness and triangulation.

*Faithfulness* asks whether the scores describe the model: removing events in the order of their
scores must lower the conversion logit faster than removing them at random (deletion curves and
AOPC), and removing every event of a type shows its model-based effect. *Triangulation* puts the
transformer's event-type lift next to the classic multi-touch credits (first and last touch,
linear, time decay, U-shaped, Markov removal) with the rank agreement between every pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventlift.analysis.multitouch import CREDIT_COLUMNS, multitouch_credit, rank_agreement
from eventlift.attribution.faithfulness import event_type_removal, faithfulness
from eventlift.data.encode import EncodedSessions
from eventlift.model.transformer import EventTransformer

__all__ = ["faithfulness_scorecard", "triangulation"]


def faithfulness_scorecard(
    model: EventTransformer,
    data: EncodedSessions,
    raw_scores: np.ndarray,
    *,
    method: str,
    split: str,
    sample: int,
    seed: int,
) -> tuple[dict, pd.DataFrame]:
    """Deletion/insertion AOPC against random orders, and the event-type removal table.

    Computed on at most ``sample`` sessions of ``split`` (drawn with ``seed``): each deletion
    curve costs a few dozen forward passes per session. Returns the report as plain data (with
    ``flagged`` when the ranking is not clearly better than random) and the removal table.
    """
    rows = data.indices(split) if split != "all" else np.arange(len(data))
    if sample and len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=sample, replace=False))
    report = faithfulness(model, data, raw_scores, rows, seed=seed, method=method)
    removal = event_type_removal(model, data, rows)
    return report.to_dict(), removal


def triangulation(
    events: pd.DataFrame, sessions: pd.DataFrame, event_table: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multi-touch credits beside the transformer's lift, and Kendall τ between every pair.

    ``events`` and ``sessions`` are the processed events and labelled sessions of the
    attribution split; ``event_table`` is the event-type attribution table.
    """
    credit = multitouch_credit(events, sessions)
    lift = event_table.set_index("event")["lift"].rename("transformer_lift")
    table = credit.merge(lift, left_on="event", right_index=True, how="left")
    table = table[["event", "transformer_lift", *CREDIT_COLUMNS, "markov_removal_effect"]]
    table = table.sort_values("transformer_lift", ascending=False, ignore_index=True)
    agreement = rank_agreement(table, ["transformer_lift", *CREDIT_COLUMNS])
    return table, agreement
