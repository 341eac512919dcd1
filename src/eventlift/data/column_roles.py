"""Propose the role of each column of a sample from its name and its content.

Names come in many spellings (``user_session``, ``sessionId``, ``visitorid``, ``event_time``...),
so a name is only a first guess: each role has a content test that can overrule it. A timestamp
must parse with eventlift's own parser (epoch units are read from the numbers' magnitude); a
session id must group events that are close in time (a key whose groups hold gaps of hours is a
user id, and sessions are then derived); an event column holds few distinct values that vary
within a session; an event category is determined by the event; a store name by the store id.
Where content cannot decide, a role is left out and the evidence says why, because a wrong
mapping costs the user more than a missing optional one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventlift.data.column_stats import (
    SESSION_GAP_MINUTES,
    as_text,
    determined_share,
    group_shape,
    is_integral,
    numbers,
    time_reading,
    varies_within,
)
from eventlift.exceptions import DataError

__all__ = ["ColumnRoles", "propose_roles"]

_USER_LEVEL_SHARE = 0.25  # groups holding a longer gap, above which a key spans several sessions
_MAX_EVENT_TYPES = 2000

# Spellings per role, best first; a name also matches when its underscores are dropped.
_NAMES = {
    "session_id": ("session_id", "user_session", "session", "visit_id", "session_key", "visit",
                   "sid", "session_uuid"),
    "user_id": ("user_id", "visitorid", "visitor_id", "customer_id", "user", "client_id",
                "device_id", "anonymous_id", "uid", "member_id", "account_id", "customer",
                "visitor", "distinct_id", "person_id"),
    "timestamp": ("timestamp", "event_time", "ts", "time", "event_timestamp", "datetime",
                  "created_at", "occurred_at", "event_ts", "date", "time_stamp"),
    "event": ("event", "event_type", "event_name", "type", "action", "event_action", "name",
              "activity", "event_code"),
    "event_category": ("event_category", "category", "event_group", "event_family",
                       "category_code", "category_id", "category_name"),
    "event_detail": ("event_detail", "detail", "event_label", "label", "subtype", "sub_type",
                     "carousel_type", "event_subtype"),
    "store_id": ("store_id", "product_id", "item_id", "aid", "sku", "merchant_id",
                 "restaurant_id", "shop_id", "vendor_id", "store", "product", "item", "itemid",
                 "productid", "ad_id", "content_id"),
    "store_name": ("store_name", "product_name", "item_name", "merchant_name", "restaurant_name",
                   "shop_name", "brand", "title", "name"),
}  # fmt: skip
# Words that make a name a weaker match for a role when no spelling above fits.
_WORDS = {
    "session_id": {"session", "visit"},
    "user_id": {"user", "visitor", "customer", "client", "member", "account"},
    "timestamp": {"time", "timestamp", "ts", "datetime"},
    "event": {"event", "action"},
    "event_category": {"category", "family"},
    "event_detail": {"detail", "label", "subtype"},
    "store_id": {"store", "product", "item", "merchant", "shop", "restaurant", "sku"},
    "store_name": {"brand", "title"},
}


@dataclass(frozen=True)
class ColumnRoles:
    """The proposal: role -> column, why each column got its role (or none), what to check.

    ``evidence`` maps every column of the sample to one sentence; ``derive_sessions`` is True
    when no column is a session id and sessions are to be cut from ``user_id`` by inactivity.
    ``timestamp_unit`` is the epoch unit read from the magnitude (None for text or datetimes);
    ``checks`` names the choices made from content alone, for the user to confirm.
    """

    roles: dict[str, str]
    evidence: dict[str, str]
    derive_sessions: bool
    timestamp_unit: str | None
    checks: list[str]


def _normalize_name(name: object) -> str:
    """``sessionId``, ``Session ID`` and ``session-id`` all become ``session_id``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _name_score(name: object, role: str) -> int:
    """100 minus the spelling's rank for a listed spelling, 10 for a matching word, else 0."""
    norm = _normalize_name(name)
    for rank, spelling in enumerate(_NAMES[role]):
        if norm == spelling or norm.replace("_", "") == spelling.replace("_", ""):
            return 100 - rank
    return 10 if set(norm.split("_")) & _WORDS[role] else 0


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "0 %"


class _Proposer:
    """Holds the sample, its text view and the choices made so far, role by role."""

    def __init__(self, frame: pd.DataFrame, label: str) -> None:
        self.frame, self.label = frame.reset_index(drop=True), label
        self.text = {name: as_text(self.frame[name]) for name in self.frame.columns}
        self.numbers = {name: numbers(self.frame[name]) for name in self.frame.columns}
        self.roles: dict[str, str] = {}
        self.evidence: dict[str, str] = {}
        self.checks: list[str] = []

    def free(self) -> list[str]:
        return [name for name in self.frame.columns if name not in self.roles.values()]

    def ranked(self, role: str, candidates: list[str] | None = None) -> list[str]:
        """Free columns whose name fits ``role``, best first."""
        scored = [(_name_score(c, role), c) for c in (candidates or self.free())]
        return [c for score, c in sorted(scored, key=lambda p: -p[0]) if score]

    def describe(self, name: str) -> str:
        text = self.text[name]
        present = text.dropna()
        counts = present.value_counts()
        if counts.empty:
            return "every value is null"
        value = str(counts.index[0])
        value = value if len(value) <= 40 else value[:37] + "..."
        top = f"most frequent {value!r} ({_share(counts.iloc[0], len(present))})"
        nulls = len(text) - len(present)
        null_note = f", null on {_share(nulls, len(text))} of rows" if nulls else ""
        return f"{len(counts):,} distinct values, {top}{null_note}"

    def assign(self, role: str, name: str, why: str) -> None:
        self.roles[role] = name
        self.evidence[name] = why

    def idlike(self, name: str) -> bool:
        """Repeated values on nearly every row; fractions only under a key's name (``1.1699``)."""
        text = self.text[name]
        found = self.numbers[name]
        named = any(_name_score(name, role) for role in ("session_id", "user_id"))
        whole = found is None or is_integral(found) or named
        distinct = text.nunique()
        return whole and text.isna().mean() <= 0.05 and 2 <= distinct < text.notna().sum()


def propose_roles(frame: pd.DataFrame, label: str) -> ColumnRoles:
    """Propose a role for each column of ``frame`` (a sample of raw, unmapped columns).

    Parameters
    ----------
    frame : pandas.DataFrame
        The first rows of a source, as :func:`eventlift.data.peek.read_sample` returns them.
    label : str
        The source, for messages.

    Raises
    ------
    DataError
        No column reads as event times, none looks like event names, or none groups events
        into sessions or users; the message lists the columns and says what to fix.
    """
    proposer = _Proposer(frame, label)
    times, unit = _choose_timestamp(proposer)
    derive = _choose_keys(proposer, times)
    _choose_event(proposer)
    _choose_optional(proposer)
    for name in proposer.free():
        proposer.evidence.setdefault(name, proposer.describe(name))
    evidence = {str(name): proposer.evidence[name] for name in frame.columns}
    return ColumnRoles(proposer.roles, evidence, derive, unit or None, proposer.checks)


def _columns_found(frame: pd.DataFrame) -> str:
    return ", ".join(repr(str(c)) for c in frame.columns[:12])


def _choose_timestamp(proposer: _Proposer) -> tuple[np.ndarray, str]:
    readings = {}
    for name in proposer.frame.columns:
        reading = time_reading(proposer.frame[name], str(name), proposer.label)
        if reading is not None:
            readings[name] = reading
    if not readings:
        raise DataError(
            f"{proposer.label}: no column reads as event times. Columns found: "
            f"{_columns_found(proposer.frame)}. Accepted: datetimes, ISO-8601 text with or "
            f"without a zone, or epoch numbers. Fix: export the event time as one of these."
        )
    # a name that says time wins; among the rest text and datetimes before bare numbers
    best = max(readings, key=lambda c: (_name_score(c, "timestamp"), not readings[c][1]))
    seconds, unit, why = readings[best]
    if not _name_score(best, "timestamp"):
        proposer.checks.append(f"timestamp: {best!r} was chosen by its content only; check it.")
    proposer.assign("timestamp", best, why)
    for other in readings:
        if other != best:
            proposer.evidence[other] = f"also reads as times ({readings[other][2]})"
    return seconds, unit


def _choose_keys(proposer: _Proposer, times: np.ndarray) -> bool:
    """Session and user ids; True when sessions are to be derived from the user id."""
    shapes = {
        c: group_shape(proposer.text[c], times) for c in proposer.free() if proposer.idlike(c)
    }
    for role in ("session_id", "user_id"):
        for name in proposer.ranked(role, list(shapes)):
            if name not in proposer.roles.values() and role not in proposer.roles:
                proposer.roles[role] = name
    session = proposer.roles.get("session_id")
    if session is None and "user_id" not in proposer.roles:
        ids = [c for c in shapes if not any(_name_score(c, r) for r in _NAMES)]
        if ids:  # no name says so: the id forming the most groups
            session = max(ids, key=lambda c: shapes[c]["groups"])
            proposer.roles["session_id"] = session
            proposer.checks.append(f"session_id: {session!r} was chosen by its content only.")
    if session is not None and shapes[session]["long_share"] >= _USER_LEVEL_SHARE:
        del proposer.roles["session_id"]
        if "user_id" not in proposer.roles:
            proposer.roles["user_id"] = session
        else:
            proposer.evidence[session] = "a key spanning several sessions (like the user id)"
    if not {"session_id", "user_id"} & set(proposer.roles):
        raise DataError(
            f"{proposer.label}: no column groups the events into sessions or users (an id "
            f"repeated on several rows). Columns found: {_columns_found(proposer.frame)}. Fix: "
            f"export a session id or a user id with the events."
        )
    for role in ("session_id", "user_id"):
        if role in proposer.roles:
            name = proposer.roles[role]
            shape = shapes[name]
            proposer.assign(
                role,
                name,
                f"{int(shape['groups']):,} distinct values, {shape['min']:.0f}-{shape['max']:.0f} "
                f"rows each (median {shape['median']:.0f}); "
                f"{_share(shape['long_share'], 1)} hold a gap over "
                f"{SESSION_GAP_MINUTES:.0f} minutes",
            )
    derive = "session_id" not in proposer.roles
    if derive:
        user = proposer.roles["user_id"]
        proposer.evidence[user] += (
            f"; no session id: sessions derived from it by a {SESSION_GAP_MINUTES:.0f}-minute "
            f"inactivity gap"
        )
    return derive


def _key(proposer: _Proposer) -> pd.Series:
    return proposer.text[proposer.roles.get("session_id") or proposer.roles["user_id"]]


def _event_like(proposer: _Proposer, name: str) -> bool:
    if pd.api.types.is_bool_dtype(proposer.frame[name].dtype):
        return False
    found = proposer.numbers[name]
    if found is not None and not is_integral(found):
        return False
    distinct = proposer.text[name].nunique()
    return 2 <= distinct <= min(_MAX_EVENT_TYPES, 0.5 * proposer.text[name].notna().sum())


def _choose_event(proposer: _Proposer) -> None:
    candidates = [c for c in proposer.free() if _event_like(proposer, c)]
    varying = [c for c in candidates if varies_within(_key(proposer), proposer.text[c]) >= 0.2]
    named = proposer.ranked("event", varying)
    if named:
        chosen = named[0]
    else:
        unnamed = [c for c in varying if not any(_name_score(c, r) for r in _NAMES)]
        if not unnamed:
            raise DataError(
                f"{proposer.label}: no column looks like event names (a column with few "
                f"distinct values that change within a session). Columns found: "
                f"{_columns_found(proposer.frame)}. Fix: export the event name or type."
            )
        chosen = max(unnamed, key=lambda c: proposer.text[c].nunique())
        proposer.checks.append(f"event: {chosen!r} was chosen by its content only; check it.")
    proposer.assign("event", chosen, proposer.describe(chosen))
    for other in proposer.ranked("event", candidates):
        if other not in varying:
            proposer.evidence[other] = (
                f"named like an event but constant within most sessions "
                f"({proposer.describe(other)})"
            )


def _choose_optional(proposer: _Proposer) -> None:
    """Event category and detail, store id and name: by name, each checked against content."""
    event = proposer.text[proposer.roles["event"]]
    for name in proposer.ranked("event_category"):
        text = proposer.text[name]
        determined = determined_share(event, text)
        if determined >= 0.95 and 2 <= text.nunique() < event.nunique():
            proposer.assign(
                "event_category", name, f"one value per event name; {proposer.describe(name)}"
            )
            break
        why = (
            f"varies within one event name ({_share(determined, 1)} of rows hold their event's "
            f"usual value)"
            if determined < 0.95
            else "not fewer distinct values than the event names"
        )
        proposer.evidence[name] = f"{why}, so not a family of events; {proposer.describe(name)}"
    for name in proposer.ranked("event_detail"):
        if proposer.text[name].nunique() >= 2:
            proposer.assign("event_detail", name, proposer.describe(name))
            break
    for name in proposer.ranked("store_id"):
        if proposer.text[name].nunique() >= 2:
            proposer.assign("store_id", name, proposer.describe(name))
            break
    if "store_id" not in proposer.roles:
        return
    store = proposer.text[proposer.roles["store_id"]]
    for name in proposer.ranked("store_name"):
        if proposer.numbers[name] is None and determined_share(store, proposer.text[name]) >= 0.9:
            proposer.assign(
                "store_name", name, f"one value per store id; {proposer.describe(name)}"
            )
            break
