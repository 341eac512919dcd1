"""From the canonical event frame to labelled, ordered, truncated sessions.

Every row that does not reach the output is counted under a named reason, so the run summary can
say exactly where the data went. The rules, in order:

1. rows with a null event name, or a null session key, are dropped (``null_event_name``,
   ``null_session_key``); exact duplicate rows are dropped (``duplicate_rows``);
2. events are ordered by time within a session, ties keeping input order (counted as
   ``timestamp_ties``); without a session id, sessions are derived per user with an inactivity gap;
3. a session converts when it holds a conversion event; events at and after the first conversion
   are removed (``at_or_after_conversion``); sessions that start with the conversion are dropped;
4. in ``no_funnel`` mode funnel events are removed; sessions left empty are dropped;
5. with ``window = "prefix"`` or ``"matched"`` events past the session's window are removed
   (``outside_window``, see :mod:`eventlift.data.windows`);
6. sessions longer than ``max_len`` keep their first (``head``) or last (``tail``) events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eventlift.config import ColumnsConfig, SessionsConfig
from eventlift.data.categorical import as_categorical, category_mask, compact_events
from eventlift.data.funnel import DETAIL_SEPARATOR, FunnelRule
from eventlift.data.windows import LengthReference, matched_lengths, prefix_outside
from eventlift.exceptions import EmptyInputError, LabelError

__all__ = [
    "SessionData",
    "build_sessions",
    "conversion_mask",
    "event_tokens",
    "resolve_columns",
    "session_derivation",
]

SESSION_COLUMNS = ("session_id", "user_id", "converted", "n_events", "start_time")
TEXT_COLUMNS = (
    "session_id", "user_id", "event", "event_category", "event_detail", "store_id", "store_name",
)  # fmt: skip
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
    """The model's token per event: the name, or ``"name - detail"`` when details are enabled.

    Returns a categorical; the ``"name - detail"`` text is built once per distinct pair.
    """
    names = as_categorical(events["event"])
    if not use_event_detail:
        return names
    detail = as_categorical(events["event_detail"])
    n_details = len(detail.cat.categories) + 1
    pair = names.cat.codes.to_numpy(np.int64) * n_details + detail.cat.codes.to_numpy(np.int64) + 1
    codes, pairs = pd.factorize(pair)  # (E,) and (P,) distinct (name, detail) pairs
    name_codes = np.where(pairs >= 0, pairs // n_details, -1)  # a null name gives a null token
    detail_codes = np.where(pairs >= 0, pairs % n_details - 1, -1)
    name_text = pd.Series(names.cat.categories, dtype="string").reindex(name_codes)
    detail_text = pd.Series(detail.cat.categories, dtype="string").reindex(detail_codes)
    name_text, detail_text = name_text.reset_index(drop=True), detail_text.reset_index(drop=True)
    tokens = name_text.where(detail_text.isna(), name_text + DETAIL_SEPARATOR + detail_text)
    per_pair = tokens.astype("category")
    return pd.Series(
        pd.Categorical.from_codes(
            per_pair.cat.codes.to_numpy()[codes], categories=per_pair.cat.categories
        ),
        index=events.index,
    )


def resolve_columns(columns: ColumnsConfig, events: pd.DataFrame) -> ColumnsConfig:
    """``columns`` with a left-out ``session_id`` settled against a canonical event frame.

    The reader maps the column ``session_id`` when the input has one, so a canonical frame
    without any session id means the input had none: sessions are then derived from
    ``user_id`` (see :meth:`ColumnsConfig.resolve`). An explicit mapping is returned unchanged.
    """
    if columns.session_id is not None:
        return columns
    return columns.resolve(bool(events["session_id"].notna().any()))


def session_derivation(columns: ColumnsConfig, config: SessionsConfig) -> dict | None:
    """How sessions are derived by inactivity, for the run summary; None when they are not.

    Returns ``{"from": role, "gap_minutes": gap, "why": sentence}``: ``from`` is ``"user_id"``
    when no session id is mapped, ``"session_id"`` when ``[sessions] derive_sessions`` splits
    the mapped sessions further. ``columns`` must be resolved (:func:`resolve_columns`).
    """
    gap = config.inactivity_gap_minutes
    if not columns.session_id:
        why = (
            f"derived from {columns.user_id!r} with a {gap:g}-minute inactivity gap: [columns] "
            f"session_id is left out and the input has no 'session_id' column (or it is \"\")"
        )
        return {"from": "user_id", "gap_minutes": gap, "why": why}
    if config.derive_sessions:
        why = (
            f"each session id split wherever {gap:g} minutes pass without an event: "
            f"[sessions] derive_sessions is on"
        )
        return {"from": "session_id", "gap_minutes": gap, "why": why}
    return None


def conversion_mask(events: pd.DataFrame, config: SessionsConfig) -> np.ndarray:
    """True for conversion events: named in ``conversion_events``, else of category conversion."""
    if config.conversion_events:
        return events["event"].isin(config.conversion_events).to_numpy(dtype=bool)
    return category_mask(events["event_category"], lambda text: text.str.lower() == "conversion")


def build_sessions(
    events: pd.DataFrame,
    config: SessionsConfig,
    columns: ColumnsConfig,
    *,
    mode: str = "no_funnel",
    source: str = "input",
    seed: int = 0,
) -> SessionData:
    """Apply the session rules (the module docstring's steps 1-6) to a canonical event frame.

    Text columns are worked on as categoricals (see :mod:`eventlift.data.categorical`), and the
    returned events keep them so: a few bytes per event whatever the length of the ids.

    Parameters
    ----------
    events : canonical event frame (see :mod:`eventlift.data.schema`), text columns as strings or
        categoricals.
    config, columns : the ``[sessions]`` and ``[columns]`` sections; a left-out ``session_id``
        is settled against ``events`` (:func:`resolve_columns`).
    mode : ``"no_funnel"`` removes funnel events, ``"with_funnel"`` keeps them.
    source : how error messages name the input.
    seed : the draw of the ``matched`` window's cuts.

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
    columns = resolve_columns(columns, events)
    derivation = session_derivation(columns, config)
    if derivation is not None:
        counts["sessions_derived"] = derivation
    frame = compact_events(events, TEXT_COLUMNS)
    _check_conversions(frame, config, columns, source)

    derive = not columns.session_id or config.derive_sessions
    key = "user_id" if not columns.session_id else "session_id"
    frame["event_name"] = frame["event"]
    frame["event"] = event_tokens(frame, config.use_event_detail)
    frame = _drop(frame, frame["event"].isna(), "null_event_name", counts)
    frame = _drop(frame, frame[key].isna(), "null_session_key", counts)
    frame = _drop(frame, frame["timestamp"].isna(), "null_timestamp", counts)
    frame = frame.sort_values([key, "timestamp", "row_number"], kind="stable", ignore_index=True)
    frame = _drop(frame, _duplicate_rows(frame, key), "duplicate_rows", counts)
    if derive:
        frame["session_id"] = _derive_session_ids(frame, key, config.inactivity_gap_minutes)
    session = _session_codes(frame)
    same_session = _same_as_previous(session)
    ties = np.diff(frame["timestamp"].to_numpy(), prepend=frame["timestamp"].iloc[:1].to_numpy())
    counts["timestamp_ties"] = int((same_session & (ties == np.timedelta64(0))).sum())

    frame = _label(frame, config, counts)
    if mode == "no_funnel":
        funnel = FunnelRule.from_config(config).mask(frame)
        before = _n_sessions(frame)
        frame = _drop(frame, funnel, "funnel_events", counts)
        counts["dropped_sessions"]["emptied_by_funnel_exclusion"] = before - _n_sessions(frame)
    if frame.empty:
        raise EmptyInputError(
            f"{source}: no events are left after labelling and exclusion "
            f"(dropped rows by reason: {counts['dropped_rows']})."
        )

    if config.window != "full":
        frame = _window(frame, config, counts, seed)
    frame = _truncate(frame, config, counts)
    return _finish(frame, counts, source)


def _check_conversions(
    events: pd.DataFrame, config: SessionsConfig, columns: ColumnsConfig, source: str
) -> None:
    names = events["event"]
    frequent = ", ".join(repr(str(n)) for n in names.value_counts().index[:8])
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


def _duplicate_rows(frame: pd.DataFrame, key: str) -> np.ndarray:
    """Exact copies of an earlier input row (every column but ``row_number``).

    ``frame`` is sorted by key, time and input order, so copies sit in runs of equal key and
    timestamp, and the first of a run is the first in input order: only the rows of such runs
    (a small share of a log) are compared, instead of hashing every row of the log.
    """
    codes, stamps = frame[key].cat.codes.to_numpy(), frame["timestamp"].to_numpy()
    tied = np.zeros(len(frame), dtype=bool)  # same key and time as the row before
    tied[1:] = (codes[1:] == codes[:-1]) & (stamps[1:] == stamps[:-1])
    candidates = np.flatnonzero(tied | np.append(tied[1:], False))  # both rows of every tie
    duplicated = np.zeros(len(frame), dtype=bool)
    if len(candidates):
        compared = [column for column in frame.columns if column != "row_number"]
        duplicated[candidates] = frame.iloc[candidates].duplicated(subset=compared).to_numpy()
    return duplicated


def _session_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each event's session as an integer code (events of one session are contiguous)."""
    return frame["session_id"].cat.codes.to_numpy()


def _n_sessions(frame: pd.DataFrame) -> int:
    return int((~_same_as_previous(_session_codes(frame))).sum())  # one run of rows per session


def _same_as_previous(codes: np.ndarray) -> np.ndarray:
    """True where a row has the same (non-null) code as the row before it."""
    same = np.zeros(len(codes), dtype=bool)
    same[1:] = codes[1:] == codes[:-1]
    return same


def _derive_session_ids(frame: pd.DataFrame, key: str, gap_minutes: float) -> pd.Categorical:
    """Split each key's time-ordered events wherever the gap exceeds the inactivity limit.

    Session ids are ``"<key>#<n>"`` (n counts from 1 within the key); the text is built once per
    session, and the events hold a code into it.
    """
    key_codes = frame[key].cat.codes.to_numpy()
    gap = frame["timestamp"].diff() > pd.Timedelta(minutes=gap_minutes)
    starts = ~_same_as_previous(key_codes) | gap.to_numpy(dtype=bool)
    session = np.cumsum(starts) - 1  # (E,) session number in frame order
    index_in_key = pd.Series(starts.astype(np.int64)).groupby(key_codes).cumsum().to_numpy()
    first = np.flatnonzero(starts)
    key_text = pd.Series(frame[key].cat.categories, dtype="string").iloc[key_codes[first]]
    ids = key_text.reset_index(drop=True) + "#" + pd.Series(index_in_key[first]).astype("string")
    return pd.Categorical.from_codes(session, categories=pd.Index(ids.astype(str)))


def _runs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """First row ``(S,)`` and number of rows ``(S,)`` of each session (sessions are contiguous)."""
    starts = np.flatnonzero(~_same_as_previous(_session_codes(frame)))
    return starts, np.diff(np.append(starts, len(frame)))


def _order_in_session(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row's 0-based place within its session ``(E,)``, from :func:`_runs`."""
    return np.arange(lengths.sum()) - np.repeat(starts, lengths)


def _label(frame: pd.DataFrame, config: SessionsConfig, counts: dict) -> pd.DataFrame:
    """Mark converted sessions and cut each one just before its first conversion.

    Sessions are contiguous runs of rows, so per-session sums are differences of one cumulative
    sum: no grouping, a few 4-byte arrays per event.
    """
    is_conversion = conversion_mask(frame, config)  # (E,)
    starts, lengths = _runs(frame)
    seen = np.cumsum(is_conversion, dtype=np.int32)  # conversions up to each row, log-wide
    before = np.repeat(seen[starts] - is_conversion[starts], lengths)  # ... before its session
    within = seen - before  # conversions up to each row within its session
    frame["converted"] = np.repeat(within[starts + lengths - 1] > 0, lengths)
    starts_with = np.repeat(is_conversion[starts], lengths)
    counts["dropped_sessions"]["starts_with_conversion"] = int(is_conversion[starts].sum())
    frame = _drop(frame, starts_with, "session_starts_with_conversion", counts)
    return _drop(frame, (within > 0)[~starts_with], "at_or_after_conversion", counts)


def _window(frame: pd.DataFrame, config: SessionsConfig, counts: dict, seed: int) -> pd.DataFrame:
    """Drop the events past each session's window; count the sessions it shortened."""
    starts, lengths = _runs(frame)
    order = _order_in_session(starts, lengths)
    if config.window == "prefix":
        stamps = frame["timestamp"].to_numpy()
        elapsed = (stamps - np.repeat(stamps[starts], lengths)) / np.timedelta64(1, "s")
        outside = prefix_outside(order, elapsed, config)
    else:
        converted = frame["converted"].to_numpy(dtype=bool)[starts]
        ids = pd.Series(frame["session_id"].cat.categories[_session_codes(frame)[starts]])
        references = (
            LengthReference.of(lengths[converted]),
            LengthReference.of(lengths[~converted]),
        )
        kept = matched_lengths(lengths, converted, ids, references, seed)
        outside = order >= np.repeat(kept, lengths)
    shortened = np.add.reduceat(outside, starts) > 0 if len(starts) else np.zeros(0, bool)
    counts["windowed_sessions"] = int(shortened.sum())
    return _drop(frame, outside, "outside_window", counts)


def _truncate(frame: pd.DataFrame, config: SessionsConfig, counts: dict) -> pd.DataFrame:
    starts, lengths = _runs(frame)
    order = _order_in_session(starts, lengths)
    if config.truncate == "head":
        cut = order >= config.max_len
    else:
        cut = order < np.repeat(lengths, lengths) - config.max_len
    counts["truncated_sessions"] = int((lengths > config.max_len).sum())
    return _drop(frame, cut, "truncated", counts)


def _finish(frame: pd.DataFrame, counts: dict, source: str) -> SessionData:
    frame["session_id"] = frame["session_id"].cat.remove_unused_categories()
    session = _session_codes(frame)  # now 0..S-1 in order of appearance
    starts, n_events = _runs(frame)
    frame["position"] = (_order_in_session(starts, n_events) + 1).astype(np.int32)
    gaps = frame["timestamp"].diff().dt.total_seconds()
    # the first known user of each session (a session's first rows may lack one)
    users = frame["user_id"].groupby(session, sort=False, observed=True).first()
    frame["gap_seconds"] = gaps.where(frame["position"] > 1, 0.0).clip(lower=0.0)
    sessions = pd.DataFrame(
        {
            "session_id": pd.array(frame["session_id"].cat.categories, dtype="string"),
            "user_id": users.astype("string").to_numpy(),
            "converted": frame["converted"].to_numpy()[starts],
            "n_events": n_events.astype(np.int64),
            "start_time": frame["timestamp"].to_numpy()[starts],
        }
    )
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
