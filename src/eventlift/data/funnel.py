"""Which events are funnel steps: the one rule both modes, the leak probe and Spark apply.

An event is a funnel step when its name is one of ``[sessions] funnel_events`` or its category
one of ``[sessions] funnel_categories``. Sessions keep tokens, not names: with
``use_event_detail`` a token reads ``"name - detail"`` (:data:`DETAIL_SEPARATOR`), so a token is
a funnel step when it is a funnel name or starts with one and the separator. The rule is
evaluated on pandas frames here and on Spark columns by :meth:`FunnelRule.spark_condition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eventlift.config import SessionsConfig

__all__ = ["DETAIL_SEPARATOR", "FunnelRule"]

DETAIL_SEPARATOR = " - "  # between an event's name and its detail in a token


@dataclass(frozen=True)
class FunnelRule:
    """The configured funnel: event names and categories (either one marks a step)."""

    names: tuple[str, ...]
    categories: tuple[str, ...]

    @classmethod
    def from_config(cls, sessions: SessionsConfig) -> FunnelRule:
        return cls(tuple(sessions.funnel_events), tuple(sessions.funnel_categories))

    def mask(self, events: pd.DataFrame) -> np.ndarray:
        """Per row of canonical events (``event_name``, ``event_category``): a funnel step?"""
        steps = events["event_category"].isin(self.categories) | events["event_name"].isin(
            self.names
        )
        return steps.to_numpy(dtype=bool)

    def events_found(self, events: pd.DataFrame) -> list[str]:
        """The event tokens (``event``) of ``events`` that are funnel steps, sorted."""
        found = events.loc[self.mask(events), "event"].dropna().unique()
        return sorted(str(event) for event in found)

    def spark_condition(self, name: Any, category: Any, *, tokens: bool = False) -> Any:
        """The rule as a Spark boolean column over a ``name`` and a ``category`` column (False
        where both are null); with ``tokens``, ``name`` holds tokens that may carry a detail."""
        from pyspark.sql import functions as F

        step = F.lit(False)
        if self.categories:
            step = step | category.isin(*self.categories)
        if self.names:
            step = step | name.isin(*self.names)
            if tokens:
                for funnel_name in self.names:
                    step = step | name.startswith(f"{funnel_name}{DETAIL_SEPARATOR}")
        return F.coalesce(step, F.lit(False))
