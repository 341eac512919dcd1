"""Profile a sample of a source: what each column is, which events convert, which are the funnel.

This is what ``eventlift init`` knows about a log before anyone has written a config: the first
rows, read the way the run reads them (:mod:`eventlift.data.peek`), a proposed role for each
column with the evidence (:mod:`eventlift.data.column_roles`), and the conversion and funnel
candidates among the event names (:mod:`eventlift.data.event_candidates`). The proposed mapping is
then read back through :func:`eventlift.data.readers.read_events`, so the event names listed are
the tokens the run will see (``4.0`` and ``4`` are one event) and a proposal the reader would
refuse fails here, not on the user's first run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventlift.config import ColumnsConfig, Config, InputConfig
from eventlift.data.column_roles import propose_roles
from eventlift.data.column_stats import SESSION_GAP_MINUTES
from eventlift.data.event_candidates import EventCandidates, event_candidates
from eventlift.data.peek import DEFAULT_SAMPLE_ROWS, Sample, read_sample
from eventlift.data.readers import read_events

__all__ = ["Profile", "profile_sample", "profile_source"]

_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


@dataclass(frozen=True)
class Profile:
    """What a sample says about a source, ready to become a config.

    Attributes
    ----------
    label : str
        The source, as the reader names it in messages.
    rows : int
        Rows in the sample.
    settings : dict
        ``[input]`` keys reading needs (the path or query first, then ``nested_events``,
        ``timestamp_unit``, ``on_bad_lines``...), with ``notes``: key -> why.
    roles : dict
        Role -> column; roles left out are absent.
    evidence : dict
        Column -> one sentence: its role and why, or why it has none.
    derive_sessions : bool
        No session id: sessions are cut from ``user_id`` by ``gap_minutes`` of inactivity.
    events : EventCandidates
        The top event names and the conversion and funnel candidates.
    checks : list of str
        What the user should look at before trusting the proposal.
    """

    label: str
    rows: int
    settings: dict[str, Any]
    notes: dict[str, str]
    roles: dict[str, str]
    evidence: dict[str, str]
    derive_sessions: bool
    events: EventCandidates
    checks: list[str] = field(default_factory=list)
    gap_minutes: float = SESSION_GAP_MINUTES


def profile_source(
    path: str | Path | None = None,
    *,
    query: str | None = None,
    database: str | None = None,
    rows: int = DEFAULT_SAMPLE_ROWS,
) -> Profile:
    """Read the first ``rows`` rows of a file (or query) and profile them.

    Parameters are those of :func:`eventlift.data.peek.read_sample`.

    Raises
    ------
    EventliftError
        The source is missing, unreadable or empty, or has no column that reads as event times,
        as event names, or as a session or user id; each message names the source and the fix.
    """
    profile = profile_sample(read_sample(path, query=query, database=database, rows=rows))
    if profile.rows == rows:
        profile.checks.append(
            f"only the first {rows:,} rows were read (--rows): rarer events may be missing "
            f"from the lists above."
        )
    return profile


def profile_sample(sample: Sample) -> Profile:
    """Propose roles for a sample, read it back with them, and find the candidate events."""
    proposal = propose_roles(sample.frame, sample.label)
    settings, notes = dict(sample.settings), dict(sample.notes)
    unit = proposal.timestamp_unit
    if unit:
        column = proposal.roles["timestamp"]
        settings["timestamp_unit"] = unit
        notes["timestamp_unit"] = f"{column!r} holds epoch {_UNIT_NAMES[unit]} (by magnitude)"
    columns = dict(proposal.roles)
    if proposal.derive_sessions:
        columns["session_id"] = ""
    config = Config(
        input=InputConfig(timestamp_unit=unit or "auto"), columns=ColumnsConfig(**columns)
    )
    events = read_events(sample.frame, config)
    gap = SESSION_GAP_MINUTES if proposal.derive_sessions else None
    return Profile(
        label=sample.label,
        rows=len(sample.frame),
        settings=settings,
        notes=notes,
        roles=proposal.roles,
        evidence=proposal.evidence,
        derive_sessions=proposal.derive_sessions,
        events=event_candidates(events, gap),
        checks=list(proposal.checks),
    )
