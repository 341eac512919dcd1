"""Which events of a sample look like the conversion, and which like funnel steps.

The conversion is what a session is labelled by and the funnel is what leaks that label, so both
are proposed for the user to confirm, never silently decided. Names come first (``purchase``,
``orders``, ``checkout_complete``; ``add_to_cart``, ``begin_checkout``), then the event category
(``conversion``, ``funnel``), and only then behaviour: the last of the events that come late in
the sessions holding them, which is how a purchase looks in a log whose event names are codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["TOP_EVENTS", "EventCandidates", "event_candidates"]

TOP_EVENTS = 15
_CONVERSION_NAMES = ("purchase", "order_placed", "orders", "order", "transaction",
                     "checkout_complete", "checkout_completed", "order_completed", "order_complete",
                     "purchased", "buy", "conversion", "transactions")  # fmt: skip
_CONVERSION_WORDS = {"purchase", "purchased", "order", "orders", "ordered", "transaction", "buy",
                     "conversion", "booked"}  # fmt: skip
_NOT_CONVERSION_WORDS = {"cart", "add", "begin", "start", "view", "page", "load", "click",
                         "detail", "cancel", "refund", "remove", "abandon", "failed"}  # fmt: skip
_FUNNEL_WORDS = {"cart", "carts", "basket", "checkout", "payment", "shipping", "addtocart",
                 "addtobasket"}  # fmt: skip
_FUNNEL_PHRASES = ("add_item", "add_to", "begin_checkout", "add_product")
_LATE = 0.75  # median relative position within sessions of a late event
_MAX_LATE = 12  # late events compared with one another


@dataclass(frozen=True)
class EventCandidates:
    """The top events, and the proposed conversion and funnel events with the reasons.

    ``top`` holds (event, rows) pairs, most frequent first; ``conversion`` the proposed
    conversion events (one, or none when nothing fits), ``conversion_alternatives`` other
    plausible ones; ``funnel`` the proposed funnel events; ``*_why`` one sentence each.
    """

    top: list[tuple[str, int]]
    distinct: int
    conversion: list[str]
    conversion_why: str
    conversion_alternatives: list[str] = field(default_factory=list)
    funnel: list[str] = field(default_factory=list)
    funnel_why: str = ""


def _words(name: str) -> list[str]:
    return [
        w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()) if w
    ]


def _is_conversion_name(name: str) -> bool:
    words = set(_words(name))
    complete = "checkout" in words and words & {"complete", "completed", "success", "done"}
    return bool((words & _CONVERSION_WORDS or complete) and not words & _NOT_CONVERSION_WORDS)


def _is_funnel_name(name: str) -> bool:
    words = _words(name)
    joined = "_".join(words)
    return bool(set(words) & _FUNNEL_WORDS or any(p in joined for p in _FUNNEL_PHRASES))


def _sessions(events: pd.DataFrame, gap_minutes: float | None) -> pd.DataFrame:
    """Events ordered within sessions (derived by the gap when ``gap_minutes``), with positions."""
    key = "user_id" if gap_minutes is not None else "session_id"
    frame = events[[key, "timestamp", "event", "event_category"]].dropna(subset=[key, "event"])
    frame = frame.sort_values([key, "timestamp"], kind="stable").reset_index(drop=True)
    keys = frame[key].astype(object).to_numpy()
    new = np.append(True, keys[1:] != keys[:-1])  # (E,) a key's first event
    if gap_minutes is not None:
        new |= (frame["timestamp"].diff() > pd.Timedelta(minutes=gap_minutes)).to_numpy()
    frame["session"] = np.cumsum(new)
    position = frame.groupby("session").cumcount().to_numpy(dtype=float)  # (E,) 0-based
    length = frame.groupby("session")["session"].transform("size").to_numpy(dtype=float)
    frame["relative"] = np.where(length > 1, position / np.maximum(length - 1, 1), np.nan)
    return frame


def event_candidates(events: pd.DataFrame, gap_minutes: float | None = None) -> EventCandidates:
    """Propose conversion and funnel events from a canonical event frame.

    Parameters
    ----------
    events : pandas.DataFrame
        The canonical event frame of a sample (:func:`eventlift.data.readers.read_events`).
    gap_minutes : float, optional
        Derive sessions from ``user_id`` with this inactivity gap (no session id mapped).
    """
    frame = _sessions(events, gap_minutes)
    counts = frame["event"].value_counts()
    top = [(str(name), int(n)) for name, n in counts.head(TOP_EVENTS).items()]
    names = [str(name) for name in counts.index]
    funnel_like = {n for n in names if _is_funnel_name(n)} | set(
        _by_category(frame, names, "funnel")
    )
    late = _late_steps(frame, names)
    conversion, why, alternatives = _conversion(frame, names, funnel_like, late)
    funnel, funnel_why = _funnel(frame, names, conversion, late)
    return EventCandidates(top, len(names), conversion, why, alternatives, funnel, funnel_why)


def _by_category(frame: pd.DataFrame, names: list[str], category: str) -> list[str]:
    rows = frame["event_category"].astype("string").str.lower() == category
    found = set(frame.loc[rows.fillna(False).to_numpy(), "event"].astype(str))
    return [name for name in names if name in found]


def _conversion(
    frame: pd.DataFrame, names: list[str], funnel_like: set[str], late_steps: list[str]
) -> tuple[list[str], str, list[str]]:
    """The conversion: by name, else by category, else the final late step (not a funnel one)."""
    exact = [spelling for spelling in _CONVERSION_NAMES if spelling in {n.lower() for n in names}]
    named = [n for n in names if n.lower() in exact] or [n for n in names if _is_conversion_name(n)]
    if exact:
        named.sort(key=lambda n: exact.index(n.lower()) if n.lower() in exact else len(exact))
    category = _by_category(frame, names, "conversion")
    late = [n for n in late_steps if n not in funnel_like]
    if named:
        chosen, how = named[0], "named like a purchase"
    elif category:
        chosen, how = category[0], "its category is 'conversion'"
    elif late:
        chosen = late[0]
        how = "no event is named like a purchase; the last of the events that come late in sessions"
    else:
        return [], "no event is named like a purchase or comes late in sessions", []
    sessions = frame.loc[frame["event"] == chosen, "session"].nunique()
    total = frame["session"].nunique()
    why = (
        f"{chosen!r}: {how}, in {sessions:,} of {total:,} sessions ({100 * sessions / total:.1f} %)"
    )
    alternatives = [n for n in dict.fromkeys([*named, *category, *late]) if n != chosen]
    return [chosen], why, alternatives


def _late_steps(frame: pd.DataFrame, names: list[str]) -> list[str]:
    """Events late in the sessions holding them (median position >= 75 %), the final step first.

    A purchase ends a chain of late steps (cart, checkout, order), so candidates are ranked by
    how often their first occurrence comes after the other candidates' in sessions holding
    both; ties go to the rarer event.
    """
    stats = frame.groupby("event")["relative"].median()
    sessions = frame.groupby("event")["session"].nunique()
    total = frame["session"].nunique()
    late = [
        n for n in names
        if stats.get(n, np.nan) >= _LATE and sessions[n] >= 2 and sessions[n] < 0.5 * total
    ][:_MAX_LATE]  # fmt: skip
    if len(late) < 2:
        return late
    rows = frame[frame["event"].isin(late)].reset_index()
    first = rows.groupby(["session", "event"])["index"].min().unstack()  # (S, L) first row, NaN
    after = {
        n: np.nanmean([_share_after(first[n], first[o]) for o in late if o != n]) for n in late
    }
    return sorted(late, key=lambda n: (-after[n], sessions[n]))


def _share_after(this: pd.Series, other: pd.Series) -> float:
    both = this.notna() & other.notna()
    return float((this[both] > other[both]).mean()) if both.any() else np.nan


def _funnel(
    frame: pd.DataFrame, names: list[str], conversion: list[str], late: list[str]
) -> tuple[list[str], str]:
    """Funnel steps by name or category; late events are only named as a hint, never chosen."""
    named = [n for n in names if _is_funnel_name(n) and n not in conversion]
    category = [n for n in _by_category(frame, names, "funnel") if n not in conversion]
    funnel = list(dict.fromkeys([*named, *category]))
    if not funnel:
        why = "no event is named like a cart or checkout step, none has category 'funnel'"
        before = [n for n in late if n not in conversion]
        if before:
            why += (
                f"; events that come late in sessions: {', '.join(map(repr, before))} (add those "
                f"that are cart or checkout steps: they give the conversion away)"
            )
        return [], why
    reasons = []
    if named:
        reasons.append(f"named like a cart or checkout step: {', '.join(map(repr, named))}")
    extra = [n for n in category if n not in named]
    if extra:
        reasons.append(f"category 'funnel': {', '.join(map(repr, extra))}")
    return funnel, "; ".join(reasons)
