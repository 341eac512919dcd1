"""The truth planted in the synthetic log: effects, probabilities and per-event contributions.

Only generated data has it; it is what lets the demo and the tests check that attribution
recovers the causes that were put in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from eventlift.core.atomic import write_json
from eventlift.exceptions import LabelError

__all__ = ["GroundTruth"]


@dataclass
class GroundTruth:
    """What the generator planted, so that tests and the demo can score attributions against it."""

    event_effects: dict[str, float]  # event -> planted log-odds effect (0.0 for funnel/conversion)
    event_categories: dict[str, str]  # event -> category
    funnel_events: list[str]
    conversion_event: str
    position_effect: dict[int, float]  # 1-based position -> multiplier of the effects
    store_effects: dict[str, float]  # store_id -> log-odds
    store_names: dict[str, str]  # store_id -> display name
    best_store: str  # the largest planted effect among the popular stores
    order_effect: float  # bonus for a card click then the same store's page load
    order_window: int  # within this many steps
    event_cost: float  # added by every browsing event, undamped by position
    sessions: pd.DataFrame  # session_id, user_id, probability (true), converted
    contributions: pd.DataFrame  # session_id, position, event, store_id, contribution

    def oracle_auc(self, session_ids: Iterable[str] | None = None) -> float:
        """ROC AUC of the true probabilities against the drawn labels.

        Parameters
        ----------
        session_ids
            Optional collection of session ids (e.g. the test split) to score on; all sessions
            when omitted.

        Returns
        -------
        float
            The best AUC any model can expect on these sessions, up to sampling noise.
        """
        from sklearn.metrics import roc_auc_score

        sessions = self.sessions
        if session_ids is not None:
            sessions = sessions[sessions["session_id"].isin(pd.Index(session_ids))]
        if sessions["converted"].nunique() < 2:
            raise LabelError(
                f"oracle_auc needs converted and non-converted sessions; the {len(sessions)} "
                "selected sessions hold only one class. Pass more session ids."
            )
        return float(roc_auc_score(sessions["converted"], sessions["probability"]))

    def to_json(self, path: str | os.PathLike, *, oracle_auc: float | None = None) -> None:
        """Write the planted truth as JSON (the demo's ``ground_truth.json``), atomically.

        ``oracle_auc`` is the value to record (the demo passes the AUC on its test split); when
        omitted, the AUC over all sessions is written. The file appears complete or not at all.
        """
        funnel = set(self.funnel_events) | {self.conversion_event}
        payload = {
            "event_effects": {
                event: {
                    "effect": effect,
                    "category": self.event_categories[event],
                    "funnel": event in self.funnel_events,
                }
                for event, effect in self.event_effects.items()
            },
            "non_funnel_events": [e for e in self.event_effects if e not in funnel],
            "funnel_events": list(self.funnel_events),
            "conversion_event": self.conversion_event,
            "position_effect": {str(p): m for p, m in self.position_effect.items()},
            "store_effects": self.store_effects,
            "store_names": self.store_names,
            "best_store": self.best_store,
            "order_effect": self.order_effect,
            "order_window": self.order_window,
            "event_cost": self.event_cost,
            "oracle_auc": self.oracle_auc() if oracle_auc is None else float(oracle_auc),
            "n_sessions": len(self.sessions),
            "conversion_rate": float(self.sessions["converted"].mean()),
        }
        write_json(payload, path)
