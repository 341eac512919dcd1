"""The single-event leakage probe.

An event whose mere presence separates converted from non-converted sessions is almost never a
cause of conversion: it is a funnel step that only happens on the way to the purchase, or the
purchase itself under another name. A model that sees it scores a high AUC and puts all its
attribution on it, hiding the real drivers. This probe names such events on every run, with the
figures that convict them and the config change that removes them.

The presence AUC of one binary feature needs no model: with TPR the share of converted sessions
that hold the event and FPR the share of non-converted ones, the ROC curve has a single corner and
its area is ``(TPR + 1 - FPR) / 2``. It is computed for every event at once from two counts, so
the Spark path counts sessions in one aggregation and scores them with :func:`presence_aucs` and
:func:`flag_leaks`, the very functions the local path uses.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from eventlift.analysis.frames import require_columns, session_labels
from eventlift.data.funnel import DETAIL_SEPARATOR
from eventlift.exceptions import ConfigError

__all__ = [
    "LeakFinding",
    "describe_finding",
    "detect_leaks",
    "flag_leaks",
    "percent",
    "presence_aucs",
    "score_events",
    "single_event_aucs",
    "suggest_funnel",
    "summary_records",
]

logger = logging.getLogger(__name__)

# An event found in at least this share of converted sessions and in no other looks like the
# conversion itself, so the fix is to declare it a conversion event rather than a funnel step.
CONVERSION_LIKE_SHARE = 0.95
# The one-class rule flags an event only when that many sessions falling all in one class by
# chance would be rarer than this; without it, rare events of a common class (non-converted
# sessions are often 85 % or more) would be flagged at random.
CHANCE_LEVEL = 1e-3


@dataclass(frozen=True)
class LeakFinding:
    """One event named as a likely leak.

    Attributes
    ----------
    event
        The event token.
    auc
        Presence AUC, ``max(auc, 1 - auc)`` so that 0.5 means no information.
    n_sessions, n_converted
        Sessions holding the event, and how many of them converted.
    only_in_converted
        True when every session holding the event converted.
    reason
        A plain sentence with the figures behind the finding.
    fix
        The config change that removes the event, e.g. ``add "cart" to [sessions] funnel_events``.
    rules
        The rules that named it: ``"presence"`` (this module), ``"late"`` and ``"gain"``
        (:mod:`eventlift.analysis.leak_rules`).
    """

    event: str
    auc: float
    n_sessions: int
    n_converted: int
    only_in_converted: bool
    reason: str
    fix: str
    rules: tuple[str, ...] = ("presence",)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of the finding, keyed by field name."""
        return {**dataclasses.asdict(self), "rules": list(self.rules)}


def single_event_aucs(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Score every event by how well its presence alone predicts conversion.

    Parameters
    ----------
    events
        Processed events with ``session_id`` and ``event``; events of sessions absent from
        ``sessions`` and events without a name are ignored.
    sessions
        The sessions to score over (the caller picks which), with ``session_id`` and
        ``converted``. Sessions without events count as holding none.

    Returns
    -------
    pandas.DataFrame
        One row per event: ``event``, ``n_sessions``, ``n_converted``, ``auc``
        (``max(auc, 1 - auc)`` of presence alone; NaN when ``sessions`` lacks one class), sorted
        by ``auc`` descending, then by ``n_sessions`` descending, then by name.
    """
    return score_events(events, sessions)[0]


def score_events(events: pd.DataFrame, sessions: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Validate the frames; return the table of :func:`single_event_aucs` and ``(S,)`` labels."""
    require_columns(events, ("session_id", "event"), "events")
    require_columns(sessions, ("session_id", "converted"), "sessions")
    labels = session_labels(sessions)  # (S,)
    n_rows = len(labels)

    rows = pd.Index(sessions["session_id"]).get_indexer(events["session_id"])  # (E,) -1: absent
    codes, names = pd.factorize(events["event"])  # (E,) -1: no name, (U,)
    keep = (rows >= 0) & (codes >= 0)
    presence = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], codes[keep])),
        shape=(n_rows, len(names)),
    )  # (S, U); converting the triplets sums repeats of an event within a session
    presence.data[:] = 1.0  # held or not, however often
    n_sessions = presence.getnnz(axis=0)  # (U,)
    n_converted = labels.astype(np.float64) @ presence  # (U,)
    present = n_sessions > 0  # (U,) events of the given sessions only
    counts = pd.DataFrame(
        {
            "event": pd.Series(names[present], dtype=object).astype(str),
            "n_sessions": n_sessions[present],
            "n_converted": np.rint(n_converted[present]),
        }
    )
    n_positive = int(labels.sum())
    return presence_aucs(counts, n_positive, n_rows - n_positive), labels


def presence_aucs(counts: pd.DataFrame, n_positive: int, n_negative: int) -> pd.DataFrame:
    """The table of :func:`single_event_aucs` from presence counts alone.

    The AUC of a binary feature depends only on the 2 × 2 table of sessions with or without the
    event by outcome, so an engine that counts sessions elsewhere (Spark) scores exactly like the
    local path by passing those counts here.

    Parameters
    ----------
    counts
        One row per event held by at least one session: ``event``, ``n_sessions`` (sessions
        holding it) and ``n_converted`` (those of them that converted).
    n_positive, n_negative
        Converted and non-converted sessions scored over.
    """
    require_columns(counts, ("event", "n_sessions", "n_converted"), "counts")
    n_sessions = counts["n_sessions"].to_numpy(dtype=np.float64)  # (U,)
    n_converted = counts["n_converted"].to_numpy(dtype=np.float64)  # (U,)
    if n_positive and n_negative:
        tpr = n_converted / n_positive
        fpr = (n_sessions - n_converted) / n_negative
        auc = (tpr + 1.0 - fpr) / 2.0
        auc = np.maximum(auc, 1.0 - auc)  # (U,)
    else:
        auc = np.full(len(counts), np.nan)
    table = pd.DataFrame(
        {
            "event": counts["event"].astype(object).astype(str).to_numpy(),
            "n_sessions": n_sessions.astype(np.int64),
            "n_converted": n_converted.astype(np.int64),
            "auc": auc.astype(np.float64),
        }
    )
    table = table.sort_values(
        ["auc", "n_sessions", "event"], ascending=[False, False, True], na_position="last"
    )
    return table.reset_index(drop=True)


def detect_leaks(
    events: pd.DataFrame,
    sessions: pd.DataFrame,
    *,
    threshold: float = 0.9,
    min_sessions: int = 10,
) -> list[LeakFinding]:
    """Name the events whose presence alone gives the label away.

    An event is flagged when its presence AUC exceeds ``threshold``, or when it occurs in at
    least ``min_sessions`` sessions that all share one outcome (all converted, or none) and so
    many sessions agreeing by chance would be rarer than one in a thousand.

    Parameters
    ----------
    events, sessions
        As for :func:`single_event_aucs`; the probe covers exactly the sessions given.
    threshold
        Presence AUC above which an event is flagged, between 0.5 and 1.
    min_sessions
        Least number of sessions for the one-outcome rule, at least 1.

    Returns
    -------
    list of LeakFinding
        Sorted by AUC descending; empty when nothing leaks or when ``sessions`` does not hold
        both outcomes (a warning is logged then).

    Raises
    ------
    ConfigError
        ``threshold`` or ``min_sessions`` out of range.
    """
    table, labels = score_events(events, sessions)
    n_positive = int(labels.sum())
    return flag_leaks(
        table, n_positive, len(labels) - n_positive, threshold=threshold, min_sessions=min_sessions
    )


def flag_leaks(
    table: pd.DataFrame,
    n_positive: int,
    n_negative: int,
    *,
    threshold: float = 0.9,
    min_sessions: int = 10,
) -> list[LeakFinding]:
    """The findings of :func:`detect_leaks` from a table of :func:`presence_aucs`.

    ``n_positive`` and ``n_negative`` are the converted and non-converted sessions the table
    was counted over; the rules and the meaning of ``threshold`` and ``min_sessions`` are those
    of :func:`detect_leaks`.
    """
    _check_settings(threshold, min_sessions)
    if not (n_positive and n_negative):
        logger.warning(
            "Leakage probe skipped: the %d sessions given are all %s.",
            n_positive + n_negative,
            "converted" if n_positive else "non-converted",
        )
        return []

    n_sessions = table["n_sessions"].to_numpy()
    n_converted = table["n_converted"].to_numpy()
    base_rate = n_positive / (n_positive + n_negative)
    only_converted = (n_converted == n_sessions) & (n_sessions >= min_sessions)
    only_converted &= n_sessions * np.log(base_rate) < np.log(CHANCE_LEVEL)
    only_not_converted = (n_converted == 0) & (n_sessions >= min_sessions)
    only_not_converted &= n_sessions * np.log1p(-base_rate) < np.log(CHANCE_LEVEL)
    flagged = (table["auc"].to_numpy() > threshold) | only_converted | only_not_converted

    findings = [
        describe_finding(row, n_positive, n_negative, bool(only_not_converted[index]))
        for index, row in enumerate(table.itertuples(index=False))
        if flagged[index]
    ]
    for finding in findings:
        logger.info("Likely leak: %s is %s. Fix: %s.", finding.event, finding.reason, finding.fix)
    return findings


def _check_settings(threshold: float, min_sessions: int) -> None:
    """Reject a threshold outside [0.5, 1] or a non-positive ``min_sessions``."""
    if not 0.5 <= threshold <= 1.0:
        raise ConfigError(
            f"The leakage threshold must be a presence AUC between 0.5 and 1; got {threshold!r}."
        )
    if min_sessions < 1:
        raise ConfigError(
            f"The leakage min_sessions must be a positive number of sessions; got {min_sessions!r}."
        )


def summary_records(findings: list[LeakFinding], kept_funnel: Collection[str]) -> list[dict]:
    """Findings as run-summary records, the fix of a configured funnel event pointing elsewhere.

    In ``with_funnel`` mode the funnel events are kept on purpose, so "add it to funnel_events"
    would repeat the config; ``kept_funnel`` names those events, and their fix points to the
    ``no_funnel`` run, which excludes them. Each record says whether it is one
    (``configured_funnel``).
    """
    records = []
    for finding in findings:
        record = finding.to_dict()
        if record["event"] in kept_funnel:
            record["fix"] = (
                f"{record['event']!r} is a configured funnel event, kept because this run is "
                f"with_funnel; read the no_funnel run, which excludes it."
            )
        record["configured_funnel"] = record["event"] in kept_funnel
        records.append(record)
    return records


def suggest_funnel(records: Sequence[dict], funnel_events: Sequence[str], detail: bool) -> dict:
    """The ``[sessions] funnel_events`` line that declares the named leaks not yet declared.

    ``records`` are :func:`summary_records`; ``funnel_events`` the configured names; with
    ``detail`` (``use_event_detail``) tokens read ``"name - detail"`` and the name is suggested,
    as the funnel rule matches names. Returns ``events`` (the new names, in the order found)
    and ``config`` (the line with the configured names first); ``{}`` when nothing is new.
    """
    new: list[str] = []
    for record in records:
        if record.get("configured_funnel"):
            continue
        name = record["event"].split(DETAIL_SEPARATOR)[0] if detail else record["event"]
        if name not in funnel_events and name not in new:
            new.append(name)
    if not new:
        return {}
    listed = ", ".join(json.dumps(name) for name in [*funnel_events, *new])
    return {"events": new, "config": f"[sessions] funnel_events = [{listed}]"}


def describe_finding(
    row,
    n_positive: int,
    n_negative: int,
    only_not_converted: bool,
    evidence: Sequence[str] = (),
    rules: tuple[str, ...] = ("presence",),
) -> LeakFinding:
    """The finding of one row of :func:`single_event_aucs`: its presence figures, then the
    ``evidence`` sentences of the ``rules`` that named it."""
    share_converted = row.n_converted / n_positive
    share_other = (row.n_sessions - row.n_converted) / n_negative
    only_converted = bool(row.n_converted == row.n_sessions)
    conversion_like = only_converted and share_converted >= CONVERSION_LIKE_SHARE

    reason = (
        f"present in {percent(share_converted)} of converted and {percent(share_other)} of "
        f"non-converted sessions ({row.n_sessions} sessions)"
    )
    if only_converted:
        reason += "; it never occurs in a non-converted session"
    elif only_not_converted:
        reason += "; it never occurs in a converted session"
    reason += f"; presence alone gives AUC {row.auc:.2f}"
    if conversion_like:
        reason += "; it looks like the conversion itself"
    reason = "; ".join([reason, *evidence])
    key = "conversion_events" if conversion_like else "funnel_events"
    return LeakFinding(
        event=row.event,
        auc=float(row.auc),
        n_sessions=int(row.n_sessions),
        n_converted=int(row.n_converted),
        only_in_converted=only_converted,
        reason=reason,
        fix=f"add {json.dumps(row.event)} to [sessions] {key}",
        rules=rules,
    )


def percent(share: float) -> str:
    """``0.912`` -> ``"91 %"``; shares below 1 % keep a decimal so that they do not read 0."""
    value = 100.0 * share
    return f"{value:.1f} %" if 0.0 < value < 1.0 else f"{value:.0f} %"
