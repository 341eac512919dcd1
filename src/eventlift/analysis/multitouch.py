"""Classic multi-touch attribution per event type, to triangulate the Transformer's lifts.

Marketing analytics has long split one conversion over the touches that led to it with fixed rules
(first touch, last touch, linear, time decay, U-shaped) or with a first-order Markov chain and its
removal effects (Anderl et al., 2016, "Mapping the customer journey: lessons learned from
graph-based online attribution modeling", IJRM). None of them learns anything, so when they agree
with the gradient × input lifts on which events matter, the lifts are easier to believe; when they
disagree, the disagreement is worth a look. :func:`multitouch_credit` computes all six per event
type and :func:`rank_agreement` compares any set of columns by Kendall's tau.

Conventions, shared by every method:

* A session is a path: its events sorted by ``position`` (ties keep the input order). Every touch
  counts, repeated ones included: a path ``a > a > b`` gives ``a`` two of the three linear thirds.
* Sessions without events are ignored, in the numerator and in the denominator.
* Time decay decays by *steps before the end of the session*, not by seconds: the last touch
  weighs 1, the one before ``2 ** (-1 / half_life_events)``, and so on. Steps are what the
  Transformer sees, they do not depend on how timestamps were rounded or tied, and sessions are
  already cut at a gap in time, so seconds inside one carry little extra information.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventlift.analysis.frames import require_columns, session_labels
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    LabelError,
    MissingColumnError,
    format_rows,
)

__all__ = ["multitouch_credit", "rank_agreement"]

logger = logging.getLogger(__name__)

EVENT_COLUMNS = ("session_id", "position", "event")
SESSION_COLUMNS = ("session_id", "converted")
HEURISTIC_COLUMNS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
CREDIT_COLUMNS = (*HEURISTIC_COLUMNS, "markov_removal")


@dataclass(frozen=True)
class _Paths:
    """Every session's touches as flat arrays, sorted by session and then position."""

    codes: np.ndarray  # (E,) int: event type, an index into ``names``
    session: np.ndarray  # (E,) int: dense session index 0..S-1, non-decreasing
    step: np.ndarray  # (E,) int: 0-based place of the touch inside its session
    length: np.ndarray  # (E,) int: number of touches of the touch's session
    converted: np.ndarray  # (S,) bool
    names: np.ndarray  # (V,) event types, sorted


def multitouch_credit(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    *,
    half_life_events: float = 5.0,
    u_shape_ends: float = 0.4,
) -> pd.DataFrame:
    """Split each conversion over its touches with five rules and a Markov chain.

    Parameters
    ----------
    events
        Processed events, one row per event: ``session_id``, ``position`` (1-based) and ``event``.
        Other columns (``timestamp`` among them) are ignored; so are events of sessions absent
        from ``sessions``.
    sessions
        One row per session: ``session_id`` and ``converted`` (bool).
    half_life_events
        Time decay: a touch this many steps before the end of its session weighs half as much as
        the last one.
    u_shape_ends
        Position-based: the share of the first touch and, separately, of the last touch when a
        session has three or more; the middle touches split the rest equally. Two touches get
        half each and a single touch gets everything, whatever this value.

    Returns
    -------
    pandas.DataFrame
        One row per event type, sorted by name, with columns ``event``, ``first_touch``,
        ``last_touch``, ``linear``, ``time_decay``, ``position_based``, ``markov_removal`` and
        ``markov_removal_effect``. The five rule columns are the credit an event type receives,
        summed over converted sessions (each hands out exactly one unit) and divided by their
        number, so each column sums to 1. ``markov_removal_effect`` is the relative drop in the
        chain's conversion probability when the event type is removed (see
        :func:`_removal_effects`); ``markov_removal`` is the same normalised to sum to 1.

    Raises
    ------
    ConfigError
        ``half_life_events`` is not positive or ``u_shape_ends`` is outside ``[0, 0.5]``.
    MissingColumnError
        A required column is missing from ``events`` or ``sessions``.
    DataError
        Repeated session ids in ``sessions`` or events without an event name.
    LabelError
        ``converted`` holds missing values, or no session with events converted.
    EmptyInputError
        No event belongs to a session of ``sessions``.
    """
    _check_parameters(half_life_events, u_shape_ends)
    paths = _build_paths(events, sessions)
    n_converted = int(paths.converted.sum())
    n_types = len(paths.names)
    weights = _heuristic_weights(paths, half_life_events, u_shape_ends)

    in_converted = paths.converted[paths.session]  # (E,)
    codes = paths.codes[in_converted]  # (E_c,)
    table = pd.DataFrame({"event": paths.names})
    for column, weight in weights.items():
        credit = np.bincount(codes, weights=weight[in_converted], minlength=n_types)  # (V,)
        table[column] = credit / n_converted
    effects = _removal_effects(paths)  # (V,)
    table["markov_removal"] = effects / effects.sum()
    table["markov_removal_effect"] = effects
    logger.info(
        "Multi-touch credit over %d converted of %d sessions with events, %d event types.",
        n_converted,
        len(paths.converted),
        n_types,
    )
    return table


def rank_agreement(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Kendall's tau-b between every pair of ``columns`` of ``table``.

    Returns
    -------
    pandas.DataFrame
        Square and symmetric, index and columns both ``columns`` in the given order, 1 on the
        diagonal. A pair is compared on the rows where both are present; a pair where one column
        is constant has no rank order and gives NaN.

    Raises
    ------
    MissingColumnError
        One of ``columns`` is not in ``table``.
    """
    columns = list(columns)
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise MissingColumnError(
            f"rank_agreement cannot find column(s) {missing}; the table holds "
            f"{list(table.columns)}. Pass names of its numeric columns, e.g. "
            f"{list(CREDIT_COLUMNS)}."
        )
    return table[columns].astype(float).corr(method="kendall")


def _check_parameters(half_life_events: float, u_shape_ends: float) -> None:
    """Raise :class:`ConfigError` for a half-life or end share that has no meaning."""
    if not half_life_events > 0:
        raise ConfigError(
            f"half_life_events must be a positive number of events; received {half_life_events!r}."
        )
    if not 0 <= u_shape_ends <= 0.5:
        raise ConfigError(
            "u_shape_ends is the share of each end of a session and must lie in [0, 0.5] so that "
            f"the two ends do not take more than everything; received {u_shape_ends!r}."
        )


def _build_paths(events: pd.DataFrame, sessions: pd.DataFrame) -> _Paths:
    """Validate both frames and lay the sessions with events out as sorted flat arrays."""
    require_columns(events, EVENT_COLUMNS, "events")
    require_columns(sessions, SESSION_COLUMNS, "sessions")
    session_labels(sessions)

    rows = pd.Index(sessions["session_id"]).get_indexer(events["session_id"])  # (E0,) -1: unknown
    known = rows >= 0
    if not known.any():
        raise EmptyInputError(
            f"None of the {len(events)} events belongs to a session of the sessions frame; pass "
            "the events and sessions of the same run."
        )
    if not known.all():
        logger.debug("Ignoring %d events of sessions absent from sessions.", int((~known).sum()))
    kept = events.loc[known, ["session_id", "position", "event"]]
    if kept["event"].isna().any():
        bad = kept.loc[kept["event"].isna()]
        raise DataError(
            f"The events frame has {len(bad)} events without an event name; drop or name them "
            "before attribution. First ones:\n" + format_rows(bad.to_dict("records"))
        )

    order = np.lexsort((kept["position"].to_numpy(), rows[known]))  # stable: ties keep input order
    session_rows = rows[known][order]  # (E,)
    codes, names = pd.factorize(kept["event"].to_numpy()[order], sort=True)  # (E,), (V,)
    present, session = np.unique(session_rows, return_inverse=True)  # (S,), (E,)
    starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])  # (S,)
    lengths = np.diff(np.r_[starts, len(session)])  # (S,)
    converted = sessions["converted"].to_numpy().astype(bool)[present]  # (S,)
    if not converted.any():
        raise LabelError(
            f"None of the {len(present)} sessions with events converted, so there is no "
            "conversion to share out; check the conversion events and the funnel exclusion."
        )
    return _Paths(
        codes=codes,
        session=session,
        step=np.arange(len(session)) - np.repeat(starts, lengths),
        length=np.repeat(lengths, lengths),
        converted=converted,
        names=np.asarray(names, dtype=object),
    )


def _heuristic_weights(
    paths: _Paths, half_life_events: float, u_shape_ends: float
) -> dict[str, np.ndarray]:
    """Each rule's share of its session's conversion for every touch: ``(E,)`` arrays.

    Within every session each array sums to 1, so summing over the touches of an event type in
    converted sessions counts conversions.
    """
    step, length = paths.step, paths.length  # (E,), (E,)
    first = step == 0
    last = step == length - 1
    steps_before_end = length - 1 - step
    decay = np.exp2(-steps_before_end / half_life_events)  # (E,)
    decay_total = np.bincount(paths.session, weights=decay)  # (S,)
    middle = (1 - 2 * u_shape_ends) / np.maximum(length - 2, 1)  # (E,) used when length >= 3
    position_based = np.select(
        [length == 1, length == 2, first | last], [1.0, 0.5, u_shape_ends], default=middle
    )
    return {
        "first_touch": first.astype(float),
        "last_touch": last.astype(float),
        "linear": 1.0 / length,
        "time_decay": decay / decay_total[paths.session],
        "position_based": position_based,
    }


def _removal_effects(paths: _Paths) -> np.ndarray:
    """Removal effect of every event type in the first-order Markov chain of all paths: ``(V,)``.

    States are the V event types, then ``(start)``, ``(conversion)`` and ``(null)``. Each path
    adds ``(start) > e1 > ... > en > (conversion)`` (or ``> (null)``) to the transition counts.
    Removing a state sends every transition into it to ``(null)``; its removal effect is
    ``1 - P(conversion | removed) / P(conversion)``.

    Rather than solving one chain per removed state, the effect comes from one inversion: the
    conversions of the full chain that avoid state ``s`` are all of them minus those that pass
    through ``s``, and ``P(pass through s) = N[start, s] / N[s, s]`` with the fundamental matrix
    ``N = (I - Q)^-1``, so the effect is ``N[start, s] * h[s] / (N[s, s] * h[start])`` where
    ``h`` is the absorption probability into ``(conversion)``. Exact, no simulation; the cost
    is one dense ``(V + 1) x (V + 1)`` inversion.
    """
    n_types = len(paths.names)
    start, conversion, null = n_types, n_types + 1, n_types + 2
    n_states = n_types + 3
    codes, session = paths.codes, paths.session  # (E,), (E,)
    same_session = session[1:] == session[:-1]  # (E-1,)
    first = paths.step == 0
    last = paths.step == paths.length - 1
    outcome = np.where(paths.converted[session[last]], conversion, null)  # (S,)
    sources = np.concatenate(
        [np.full(int(first.sum()), start), codes[:-1][same_session], codes[last]]
    )
    targets = np.concatenate([codes[first], codes[1:][same_session], outcome])
    counts = np.bincount(sources * n_states + targets, minlength=n_states * n_states)
    counts = counts.reshape(n_states, n_states)[:conversion].astype(float)  # (V+1, V+3)
    probability = counts / counts.sum(axis=1, keepdims=True)  # every transient state is left

    transient = probability[:, :conversion]  # (V+1, V+1) Q
    fundamental = np.linalg.inv(np.eye(conversion) - transient)  # (V+1, V+1) N
    absorbed = fundamental @ probability[:, conversion]  # (V+1,) h
    diagonal = np.diag(fundamental)[:n_types]  # (V,)
    through = fundamental[start, :n_types] * absorbed[:n_types] / diagonal  # (V,)
    # Rounding can push an effect a hair outside [0, 1], where it belongs by construction.
    return np.clip(through / absorbed[start], 0.0, 1.0)
