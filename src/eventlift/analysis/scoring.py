"""From a trained model to the four attribution tables: score sessions, lay the scores out per
event, roll them up.

The run, seed stability, method evaluation and the benchmarks all take this one path, so a
table means the same thing wherever it is computed: :func:`score_sessions` explains sessions
with a method, :func:`tabulate_scores` lays the chosen sessions' scores out one row per event
and rolls them up (:func:`eventlift.analysis.tables.attribution_tables`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from eventlift.analysis.tables import attribution_tables
from eventlift.attribution import (
    AttributionResult,
    attribute_sessions,
    event_level_frame,
    get_attributor,
)
from eventlift.config import AttributionConfig
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.encode import EncodedSessions
from eventlift.data.sessions import SessionData
from eventlift.model.transformer import EventTransformer

__all__ = ["score_sessions", "split_rows", "tabulate_scores"]


def split_rows(split: pd.Series, name: str) -> np.ndarray | None:
    """Increasing session rows of split ``name``; None for ``"all"`` (every session)."""
    return None if name == "all" else np.flatnonzero(split.to_numpy() == name)


def score_sessions(
    model: EventTransformer,
    encoded: EncodedSessions,
    settings: AttributionConfig,
    *,
    rows: np.ndarray | None = None,
    method: str | None = None,
    device: torch.device | None = None,
    progress: Progress = NO_PROGRESS,
) -> AttributionResult:
    """Per-event scores of ``rows`` (every session when None) by ``method`` (default
    ``settings.method``), in batches of ``settings.batch_size``."""
    return attribute_sessions(
        get_attributor(method or settings.method, model),
        encoded,
        rows,
        batch_size=settings.batch_size,
        device=device,
        progress=progress,
    )


def tabulate_scores(
    data: SessionData,
    split: pd.Series,
    scores: AttributionResult,
    settings: AttributionConfig,
    *,
    seed: int,
    rows: np.ndarray | None = None,
    bootstrap: int | None = None,
    stores: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The event-level frame of the chosen sessions and their attribution tables.

    ``rows`` chooses the sessions (increasing rows of ``data.sessions``; default the sessions
    of ``settings.split``); ``bootstrap`` overrides ``settings.bootstrap`` (0: point estimates
    only); ``seed`` drives the bootstrap.
    """
    chosen = split_rows(split, settings.split) if rows is None else rows
    frame = event_level_frame(data, split, scores, chosen)
    tables = attribution_tables(
        frame,
        position_buckets=settings.position_buckets,
        min_support=settings.min_support,
        bootstrap=settings.bootstrap if bootstrap is None else bootstrap,
        seed=seed,
        stores=stores,
    )
    return frame, tables
