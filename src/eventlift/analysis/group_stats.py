"""The statistics every attribution table is made of: per group of events, the support, the
mean attribution on each side (converted or not) and the lift.

:func:`event_arrays` validates the event-level frame once and turns it into the arrays every
table reads; :func:`group_stats` computes a group's support, side means (of events, or shares of
session attribution) and lifts with ``bincount`` over integer group codes, so a table of
thousands of stores costs one pass over the events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventlift.data.schema import SESSION_LENGTH
from eventlift.exceptions import DataError, MissingColumnError, format_rows

__all__ = [
    "REQUIRED_COLUMNS",
    "EventArrays",
    "event_arrays",
    "group_stats",
    "most_frequent",
    "optional_column",
]

REQUIRED_COLUMNS = (
    "session_id", "position", "event", "attribution_raw", "attribution", "converted",
)  # fmt: skip


@dataclass(frozen=True)
class EventArrays:
    """Event-level arrays shared by every table: ``E`` events in ``S`` sessions."""

    frame: pd.DataFrame  # the validated input, index 0..E-1
    session: np.ndarray  # (E,) session code 0..S-1
    converted: np.ndarray  # (E,) bool, the session's label
    attribution: np.ndarray  # (E,) normalised score in [0, 1]
    adjusted: np.ndarray  # (E,) attribution * session_length
    signed: np.ndarray  # (E,) attribution_raw
    session_converted: np.ndarray  # (S,) bool


def event_arrays(events: pd.DataFrame) -> EventArrays:
    """Validate the event-level frame and turn it into the shared arrays."""
    missing = [column for column in REQUIRED_COLUMNS if column not in events.columns]
    if missing:
        raise MissingColumnError(
            f"The event-level frame lacks column(s) {missing}; it needs {list(REQUIRED_COLUMNS)} "
            f"and holds {list(events.columns)}. Pass the frame produced by the attribution stage."
        )
    frame = events.reset_index(drop=True)
    bad = frame[list(REQUIRED_COLUMNS)].isna().any(axis=1)
    if bad.any():
        raise DataError(
            f"The event-level frame has {int(bad.sum())} row(s) with a missing value in "
            f"{list(REQUIRED_COLUMNS)}; every attributed event needs them. First ones:\n"
            + format_rows(frame.loc[bad, list(REQUIRED_COLUMNS)].to_dict("records"))
        )
    if (frame["position"] < 1).any():
        rows = frame.loc[frame["position"] < 1, ["session_id", "position", "event"]]
        raise DataError(
            "The event-level frame has positions below 1; positions are 1-based. First ones:\n"
            + format_rows(rows.to_dict("records"))
        )
    session, _ = pd.factorize(frame["session_id"])
    converted = frame["converted"].to_numpy().astype(bool)  # (E,)
    n_sessions = int(session.max()) + 1 if len(session) else 0
    converted_events = np.bincount(session, weights=converted, minlength=n_sessions)  # (S,)
    session_size = np.bincount(session, minlength=n_sessions)  # (S,)
    mixed = (converted_events > 0) & (converted_events < session_size)  # (S,)
    if mixed.any():
        rows = frame.loc[mixed[session], ["session_id", "converted"]].drop_duplicates()
        raise DataError(
            f"The event-level frame has {int(mixed.sum())} session(s) with events labelled both "
            "converted and not; `converted` is a session label and must be constant within a "
            "session. First ones:\n" + format_rows(rows.to_dict("records"))
        )
    if SESSION_LENGTH in frame.columns:
        length = frame[SESSION_LENGTH].to_numpy(dtype=float)  # (E,)
    else:
        length = session_size[session].astype(float)
    attribution = frame["attribution"].to_numpy(dtype=float)  # (E,)
    return EventArrays(
        frame=frame,
        session=session.astype(np.int64),
        converted=converted,
        attribution=attribution,
        adjusted=attribution * length,
        signed=frame["attribution_raw"].to_numpy(dtype=float),
        session_converted=converted_events > 0,
    )


def group_stats(
    ev: EventArrays, codes: np.ndarray, n_groups: int, min_support: int, per_session: bool = False
) -> dict[str, np.ndarray]:
    """Support, side means and lifts of ``G`` groups.

    ``codes`` is the ``(E,)`` group of each event, negative to leave it out. With
    ``per_session`` the side means are shares of session attribution (sums over the side's
    sessions divided by its number of sessions); otherwise means over the group's events.
    Every returned array has shape ``(G,)``.
    """
    keep = codes >= 0
    groups = codes[keep]  # (E',)
    conv = ev.converted[keep]  # (E',)
    n_conv = np.bincount(groups[conv], minlength=n_groups)
    n_not = np.bincount(groups[~conv], minlength=n_groups)

    def side_mean(values: np.ndarray, side: np.ndarray, counts: np.ndarray) -> np.ndarray:
        sums = np.bincount(groups[side], weights=values[keep][side], minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(counts > 0, sums / counts, np.nan)

    n_events = n_conv + n_not
    if per_session:
        sessions_conv = np.full(n_groups, ev.session_converted.sum())
        sessions_not = np.full(n_groups, (~ev.session_converted).sum())
        attr_conv = side_mean(ev.attribution, conv, sessions_conv)
        attr_not = side_mean(ev.attribution, ~conv, sessions_not)
        attr_all = side_mean(ev.attribution, np.ones_like(conv), sessions_conv + sessions_not)
        empty = n_events == 0  # a group without events has no share to report
        attr_conv[empty], attr_not[empty], attr_all[empty] = np.nan, np.nan, np.nan
    else:
        attr_conv = side_mean(ev.attribution, conv, n_conv)
        attr_not = side_mean(ev.attribution, ~conv, n_not)
        attr_all = side_mean(ev.attribution, np.ones_like(conv), n_events)
    # Distinct (session, group) pairs give the sessions that touched each group.
    width = max(n_groups, 1)
    pairs = np.sort(ev.session[keep] * width + groups)  # (E',)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # (P,)
    pair_groups = pairs % width
    pair_converted = ev.session_converted[pairs // width]
    n_sessions = np.bincount(pair_groups, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion_rate = np.bincount(pair_groups[pair_converted], minlength=n_groups) / n_sessions
    return {
        "n_events": n_events.astype(np.int64),
        "n_sessions": n_sessions.astype(np.int64),
        "attr_mean": attr_all,
        "attr_converted": attr_conv,
        "attr_not_converted": attr_not,
        "lift": attr_conv - attr_not,
        "lift_length_adjusted": side_mean(ev.adjusted, conv, n_conv)
        - side_mean(ev.adjusted, ~conv, n_not),
        "attr_signed_mean": side_mean(ev.signed, np.ones_like(conv), n_events),
        "session_conversion_rate": conversion_rate,
        "low_support": (n_conv < min_support) | (n_not < min_support),
    }


def most_frequent(codes: np.ndarray, values: pd.Series, n_groups: int) -> pd.Series:
    """Most frequent non-null value of each group (ties: the smallest value); NaN when none."""
    pairs = pd.DataFrame({"group": codes, "value": values.to_numpy()})
    pairs = pairs[(pairs["group"] >= 0) & pairs["value"].notna()]
    counts = pairs.groupby(["group", "value"], sort=True).size().reset_index(name="n")
    top = counts.sort_values(["group", "n"], ascending=[True, False], kind="stable")
    top = top.drop_duplicates("group")
    return pd.Series(top["value"].to_numpy(), index=top["group"].to_numpy()).reindex(
        range(n_groups)
    )


def optional_column(ev: EventArrays, column: str) -> pd.Series:
    """A column of the frame, or all-missing when the frame does not have it."""
    if column in ev.frame.columns:
        return ev.frame[column]
    return pd.Series(np.nan, index=ev.frame.index, dtype=object)
