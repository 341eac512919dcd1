"""What one mode of a run produced: :class:`RunResult`.

A result holds the small tables, the metrics and the summary, plus the per-event state the tables
were rolled up from (session events, encoded matrices, scores). The event-level table, one row
per event, is laid out from that state on demand instead of being held: for a large log it is the
largest thing a run makes, and it goes to its files chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventlift.attribution import AttributionResult, event_level_frame
from eventlift.data.encode import EncodedSessions
from eventlift.data.sessions import SessionData
from eventlift.exceptions import ConfigError
from eventlift.model.transformer import EventTransformer

__all__ = ["EVENT_LEVEL_CHUNK_SESSIONS", "RunResult"]

EVENT_LEVEL_CHUNK_SESSIONS = 50_000  # sessions per chunk of the event-level table


@dataclass
class RunResult:
    """Everything one mode of a run produced.

    ``tables`` holds the roll-ups ``event_type``, ``position``, ``store``, ``event_position``,
    ``event_position_matrix`` and the trust tables. The event-level table (one row per event) is
    not held: :meth:`event_level` lays it out from the run's arrays on demand, for one split or
    all sessions, and :meth:`event_level_chunks` in chunks, which is how it is written.
    """

    mode: str
    tables: dict[str, pd.DataFrame]
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    leakage: list[dict]
    summary: dict[str, Any]
    model: EventTransformer
    sessions: SessionData
    session_table: pd.DataFrame  # one row per session with its label and split
    encoded: EncodedSessions | None  # None once released
    attribution: AttributionResult | None  # the per-event scores of every session
    files: dict[str, Path] = field(default_factory=dict)

    def release_arrays(self) -> None:
        """Drop the per-event state (session events, encoded matrices, scores) once the outputs
        are written: what lets :func:`compare` run a second mode on a large log in bounded memory.
        The tables, metrics, summary and model stay; the event-level table is then read from its
        Parquet file."""
        self.encoded = None
        self.attribution = None
        self.sessions = SessionData(
            self.sessions.events.iloc[:0], self.sessions.sessions, self.sessions.counts
        )

    def event_level(self, split: str | None = None) -> pd.DataFrame:
        """The event-level table of one split, or of every session when ``split`` is
        None or ``"all"``; text columns are categoricals.

        Raises
        ------
        ConfigError
            The per-event arrays were released (:meth:`release_arrays`).
        """
        self._require_arrays()
        sessions = None
        if split not in (None, "all"):
            sessions = np.flatnonzero(self.session_table["split"].to_numpy() == split)
        return event_level_frame(
            self.sessions, self.session_table["split"], self.attribution, sessions
        )

    def event_level_chunks(
        self, chunk_sessions: int = EVENT_LEVEL_CHUNK_SESSIONS
    ) -> Iterator[pd.DataFrame]:
        """The event-level table of every session, ``chunk_sessions`` sessions at a time."""
        self._require_arrays()
        n_sessions = len(self.session_table)
        for start in range(0, n_sessions, chunk_sessions):
            rows = np.arange(start, min(start + chunk_sessions, n_sessions))
            yield event_level_frame(
                self.sessions, self.session_table["split"], self.attribution, rows
            )

    def _require_arrays(self) -> None:
        if self.attribution is None:
            where = self.files.get("event_level_parquet", "the run's output folder")
            raise ConfigError(
                f"the per-event arrays of the {self.mode} run were released after its outputs "
                f"were written; read the event-level table from {where}, or pass "
                f"keep_arrays=True to eventlift.compare()."
            )
