"""From the canonical event frame to labelled, ordered, truncated sessions (DESIGN §3).

Every row that does not reach the output is counted under a named reason, so the run summary can
say exactly where the data went. The rules, in order:

1. rows with a null event name, or a null session key, are dropped (``null_event_name``,
   ``null_session_key``); exact duplicate rows are dropped (``duplicate_rows``);
2. events are ordered by time within a session, ties keeping input order (counted as
   ``timestamp_ties``); without a session id, sessions are derived per user with an inactivity gap;
3. a session converts when it holds a conversion event; events at and after the first conversion
   are removed (``at_or_after_conversion``); sessions that start with the conversion are dropped;
4. in ``no_funnel`` mode funnel events are removed; sessions left empty are dropped;
5. sessions longer than ``max_len`` keep their first (``head``) or last (``tail``) events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eventlift.config import ColumnsConfig, SessionsConfig
from eventlift.exceptions import EmptyInputError, LabelError

__all__ = ["SessionData", "build_sessions", "conversion_mask", "event_tokens"]

SESSION_COLUMNS = ("session_id", "user_id", "converted", "n_events", "start_time")
EVENT_COLUMNS = (
    "session_id",
    "position",
    "event",
    "event_name",
    "event_category",
    "store_id",
    "store_name",
    "timestamp",
    "gap_seconds",
)


@dataclass
class SessionData:
    """Labelled sessions ready for splitting and encoding.

    ``events`` holds one row per kept event, sorted by session then position, with columns
    ``EVENT_COLUMNS`` (``event`` is the model token, ``event_name`` the raw name). ``sessions``
    holds one row per session in the same order, with ``SESSION_COLUMNS``. ``counts`` is the
    bookkeeping reported in the run summary.
    """

    events: pd.DataFrame
    sessions: pd.DataFrame
    counts: dict = field(default_factory=dict)


def event_tokens(events: pd.DataFrame, use_event_detail: bool) -> pd.Series:
    """The model's token per event: the name, or ``"name - detail"`` when details are enabled."""
    names = events["event"].astype("string")
    if not use_event_detail:
        return names
    detail = events["event_detail"].astype("string")
    return names.where(detail.isna(), names + " - " + detail)


def conversion_mask(events: pd.DataFrame, config: SessionsConfig) -> np.ndarray:
    """True for conversion events: named in ``conversion_events``, else of category conversion."""
    if config.conversion_events:
        return events["event"].isin(config.conversion_events).to_numpy(dtype=bool)
    category = events["event_category"].astype("string").str.lower()
    return (category == "conversion").fillna(False).to_numpy(dtype=bool)


def build_sessions(
    events: pd.DataFrame,
    config: SessionsConfig,
    columns: ColumnsConfig,
    *,
    mode: str = "no_funnel",
    source: str = "input",
) -> SessionData:
    """Apply DESIGN §3 steps 1-5 to a canonical event frame.

    Parameters
    ----------
    events : canonical event frame (see :mod:`eventlift.data.schema`).
    config, columns : the ``[sessions]`` and ``[columns]`` sections.
    mode : ``"no_funnel"`` removes funnel events, ``"with_funnel"`` keeps them.
    source : how error messages name the input.

    Raises
    ------
    LabelError
        No conversion at all, a named conversion event that never occurs, or every session
        converting.
    EmptyInputError
        Nothing is left after the documented cleaning rules.
    """
    counts: dict = {"rows_read": len(events), "dropped_rows": {}, "dropped_sessions": {}}
    if events.empty:
        raise EmptyInputError(f"{source}: the input holds no events.")
    _check_conversions(events, config, columns, source)

    derive = not columns.session_id or config.derive_sessions
    key = "user_id" if not columns.session_id else "session_id"
    frame = events.copy()
    frame["event_name"] = frame["event"].astype("string")
    frame["event"] = event_tokens(frame, config.use_event_detail)
    frame = _drop(frame, frame["event"].isna(), "null_event_name", counts)
    frame = _drop(frame, frame[key].isna(), "null_session_key", counts)
    frame = _drop(frame, frame["timestamp"].isna(), "null_timestamp", counts)
    duplicated = frame.duplicated(subset=[c for c in frame.columns if c != "row_number"])
    frame = _drop(frame, duplicated, "duplicate_rows", counts)

    frame = frame.sort_values([key, "timestamp", "row_number"], kind="stable", ignore_index=True)
    if derive:
        frame["session_id"] = _derive_session_ids(frame, key, config.inactivity_gap_minutes)
    same_session = _same_as_previous(frame["session_id"])
    counts["timestamp_ties"] = int(
        (same_session & (frame["timestamp"].diff() == pd.Timedelta(0))).sum()
    )

    frame = _label(frame, config, counts)
    if mode == "no_funnel":
        funnel = frame["event_category"].isin(config.funnel_categories) | frame["event_name"].isin(
            config.funnel_events
        )
        before = frame["session_id"].nunique()
        frame = _drop(frame, funnel.to_numpy(dtype=bool), "funnel_events", counts)
        counts["dropped_sessions"]["emptied_by_funnel_exclusion"] = (
            before - frame["session_id"].nunique()
        )
    if frame.empty:
        raise EmptyInputError(
            f"{source}: no events are left after labelling and exclusion "
            f"(dropped rows by reason: {counts['dropped_rows']})."
        )

    frame = _truncate(frame, config, counts)
    return _finish(frame, counts, source)


def _check_conversions(
    events: pd.DataFrame, config: SessionsConfig, columns: ColumnsConfig, source: str
) -> None:
    names = events["event"].astype("string")
    frequent = ", ".join(repr(n) for n in names.value_counts().index[:8])
    if config.conversion_events:
        present = set(names.dropna().unique())
        missing = [name for name in config.conversion_events if name not in present]
        if missing:
            raise LabelError(
                f"{source}: conversion event(s) {missing} never occur in column "
                f"{columns.event!r}. The most frequent event names are: {frequent}. "
                f"Fix: set [sessions] conversion_events to the name(s) your log uses."
            )
    elif not conversion_mask(events, config).any():
        raise LabelError(
            f"{source}: no conversion event found: [sessions] conversion_events is empty and no "
            f"event has category 'conversion'. The most frequent event names are: {frequent}. "
            f'Fix: set [sessions] conversion_events = ["<your purchase event>"].'
        )


def _drop(frame: pd.DataFrame, mask, reason: str, counts: dict) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    counts["dropped_rows"][reason] = counts["dropped_rows"].get(reason, 0) + int(mask.sum())
    return frame.loc[~mask].reset_index(drop=True) if mask.any() else frame


def _same_as_previous(values: pd.Series) -> pd.Series:
    same = values.eq(values.shift())
    return same.fillna(False).astype(bool)


def _derive_session_ids(frame: pd.DataFrame, key: str, gap_minutes: float) -> pd.Series:
    """Split each key's time-ordered events wherever the gap exceeds the inactivity limit."""
    same_key = _same_as_previous(frame[key])
    gap = frame["timestamp"].diff() > pd.Timedelta(minutes=gap_minutes)
    starts = ~same_key | gap.to_numpy(dtype=bool)
    index_in_key = pd.Series(starts.astype(np.int64)).groupby(frame[key].to_numpy()).cumsum()
    return frame[key].astype("string") + "#" + index_in_key.astype("string")


def _label(frame: pd.DataFrame, config: SessionsConfig, counts: dict) -> pd.DataFrame:
    """Mark converted sessions and cut each one just before its first conversion."""
    is_conversion = pd.Series(conversion_mask(frame, config), index=frame.index)
    by_session = is_conversion.groupby(frame["session_id"], sort=False)
    frame["converted"] = by_session.transform("any").astype(bool)
    at_or_after = (by_session.cumsum() > 0).to_numpy(dtype=bool)
    starts_with = by_session.transform("first").to_numpy(dtype=bool)
    counts["dropped_sessions"]["starts_with_conversion"] = int(
        frame.loc[starts_with, "session_id"].nunique()
    )
    frame = _drop(frame, starts_with, "session_starts_with_conversion", counts)
    return _drop(frame, at_or_after[~starts_with], "at_or_after_conversion", counts)


def _truncate(frame: pd.DataFrame, config: SessionsConfig, counts: dict) -> pd.DataFrame:
    order = frame.groupby("session_id", sort=False).cumcount()
    length = frame.groupby("session_id", sort=False)["event"].transform("size")
    cut = order >= config.max_len if config.truncate == "head" else order < length - config.max_len
    counts["truncated_sessions"] = int(frame.loc[cut, "session_id"].nunique())
    return _drop(frame, cut.to_numpy(dtype=bool), "truncated", counts)


def _finish(frame: pd.DataFrame, counts: dict, source: str) -> SessionData:
    grouped = frame.groupby("session_id", sort=False)
    frame["position"] = grouped.cumcount().astype(np.int64) + 1
    gaps = frame["timestamp"].diff().dt.total_seconds()
    frame["gap_seconds"] = gaps.where(frame["position"] > 1, 0.0).clip(lower=0.0)
    sessions = grouped.agg(
        user_id=("user_id", "first"),
        converted=("converted", "first"),
        n_events=("event", "size"),
        start_time=("timestamp", "first"),
    ).reset_index()
    n_converted = int(sessions["converted"].sum())
    if n_converted == len(sessions):
        raise LabelError(
            f"{source}: every one of the {len(sessions)} sessions converts, so there is nothing to "
            f"contrast conversions with. Fix: include sessions without a conversion in the export "
            f"(a filter such as 'sessions with an order' removes them), or check "
            f"[sessions] conversion_events."
        )
    counts.update(
        sessions=len(sessions),
        converted_sessions=n_converted,
        conversion_rate=n_converted / len(sessions),
        events=len(frame),
    )
    return SessionData(
        events=frame[list(EVENT_COLUMNS)].reset_index(drop=True),
        sessions=sessions[list(SESSION_COLUMNS)],
        counts=counts,
    )
