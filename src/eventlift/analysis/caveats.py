"""What a run cannot show, said in words: outputs left out for a missing role, and warnings.

Real logs lack roles (no store, no category) and come in shapes that make some figures
meaningless (one event type left, a handful of conversions). Rather than write an empty table or
a number that looks like a finding, a run leaves the output out with one sentence saying why
(:func:`drop_unsupported_tables`) and collects its warnings in one list (:func:`run_warnings`),
which the run summary records and the console and the report both show.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from eventlift.config import Config
from eventlift.core.output_names import file_stem

__all__ = [
    "MAX_TRUNCATED_SHARE",
    "MAX_UNKNOWN_SHARE",
    "MIN_CONVERTED_TEST_SESSIONS",
    "drop_unsupported_tables",
    "hanley_mcneil_se",
    "run_warnings",
]

MIN_CONVERTED_TEST_SESSIONS = 100
"""Converted test sessions below which the test AUC and the lift intervals are called unreliable.

Chosen from the standard error of the AUC (Hanley and McNeil, 1982, :func:`hanley_mcneil_se`):
with ``n1`` converted and ``n0`` other test sessions, and ten times as many others as converted,
the standard error at an AUC of 0.70 is about 0.030 at ``n1 = 100`` (a 95 % interval of ±0.06,
the size of a typical gap between the Transformer and a baseline), 0.043 at 50 and 0.096 at 10:
below 100 the interval is wider than the differences the report asks the reader to trust. The
lift intervals resample the same sessions, so they are as uncertain.
"""

MAX_TRUNCATED_SHARE = 0.25  # of the labelled events cut by [sessions] max_len, before a warning
MAX_UNKNOWN_SHARE = 0.5  # of the events whose event or store reads <unk>, before a warning


def hanley_mcneil_se(auc: float, n_converted: int, n_other: int) -> float:
    """The standard error of an AUC estimated on ``n_converted`` positives and ``n_other``
    negatives (Hanley and McNeil, 1982); NaN when either side is empty or the AUC is unknown.

    ``SE² = (A(1-A) + (n1-1)(Q1-A²) + (n0-1)(Q2-A²)) / (n1·n0)`` with ``Q1 = A/(2-A)`` and
    ``Q2 = 2A²/(1+A)``.
    """
    if n_converted <= 0 or n_other <= 0 or not math.isfinite(auc):
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_converted - 1) * (q1 - auc**2) + (n_other - 1) * (q2 - auc**2)
    ) / (n_converted * n_other)
    return math.sqrt(max(variance, 0.0))


def drop_unsupported_tables(
    tables: dict[str, Any],
    config: Config,
    is_empty: Callable[[Any], bool] = lambda table: table.empty,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The tables without those the run's roles cannot fill, and one sentence per left-out table.

    The store table needs ``[columns] store_id``, and at least one attributed event with a store;
    otherwise it would be an empty table that reads like a result. Reasons are keyed by the
    table's file stem (``store_attribution``), which is also the name of its database table.
    ``is_empty`` tells an empty table (pandas by default; the Spark run passes its own).
    """
    skipped: dict[str, str] = {}
    store = tables.get("store")
    if store is not None and is_empty(store):
        if not config.columns.store_id:
            skipped[file_stem("store")] = (
                "No [columns] store_id is mapped, so there is no store to attribute to; map the "
                "store (or item) column to get the store table."
            )
        else:
            skipped[file_stem("store")] = (
                f"No attributed event has a store: column {config.columns.store_id!r} is empty "
                f"in the {config.attribution.split} sessions."
            )
    kept = {key: table for key, table in tables.items() if not (key == "store" and skipped)}
    return kept, skipped


def run_warnings(
    summary: Mapping[str, Any], event_type: pd.DataFrame, config: Config
) -> list[dict[str, str]]:
    """The warnings of one mode's run, each ``{"code": ..., "message": ...}``.

    ``summary`` is the run summary as built so far (its ``mode``, ``counts``, ``metrics``,
    ``attribution`` and ``baseline_verdict`` are read); ``event_type`` is the event-type table.
    Codes: ``not_better_than_counting``, ``few_conversions``, ``single_event_type``,
    ``long_sessions``, ``rare_events``, ``rare_stores``, ``no_funnel_events``,
    ``undeclared_leaks``, ``session_end_cut``, ``event_detail_unmapped``.
    """
    counts = summary["counts"]
    found = [
        _not_better_than_counting(summary),
        _few_conversions(summary, config),
        _single_event_type(summary["mode"], event_type, config),
        _truncated(counts, config),
        *(_rare(counts, name, config) for name in ("event", "store")),
        _no_funnel_events(summary, config),
        _undeclared_leaks(summary, config),
        _session_end_cut(summary),
        _detail_unmapped(config),
    ]
    return [warning for warning in found if warning is not None]


def _not_better_than_counting(summary: Mapping[str, Any]) -> dict[str, str] | None:
    """The Transformer's test AUC not clearly above the baseline chosen on validation."""
    verdict = summary.get("baseline_verdict") or {}
    if verdict.get("better_than_counting") is not False:
        return None
    return _warning("not_better_than_counting", verdict["message"])


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _few_conversions(summary: Mapping[str, Any], config: Config) -> dict[str, str] | None:
    """Under :data:`MIN_CONVERTED_TEST_SESSIONS` converted test sessions."""
    test = summary["counts"]["sessions_by_split"].get("test", {"sessions": 0, "converted": 0})
    n_converted = int(test["converted"])
    if n_converted >= MIN_CONVERTED_TEST_SESSIONS:
        return None
    n_other = int(test["sessions"]) - n_converted
    auc = summary["metrics"].get("test_auc")
    auc = math.nan if auc is None else float(auc)
    error = hanley_mcneil_se(auc, n_converted, n_other)
    in_all = summary["counts"]["converted_sessions"]
    needed = math.ceil(MIN_CONVERTED_TEST_SESSIONS / config.train.split_fractions[2])
    return _warning(
        "few_conversions",
        f"Only {n_converted} converted sessions (and {n_other} others) are in the test split, "
        f"{in_all} converted in all: at this size the test AUC ({auc:.3f}) has a standard error "
        f"of about {error:.3f} (Hanley-McNeil), so the AUC, its comparison with the baselines "
        f"and the lift intervals are unreliable. Use a log with at least {needed} converted "
        f"sessions ({MIN_CONVERTED_TEST_SESSIONS} in the test split).",
    )


def _single_event_type(
    mode: str, event_type: pd.DataFrame, config: Config
) -> dict[str, str] | None:
    """One event type left: its share of every session is 1, so its lift is 0 by construction."""
    if len(event_type) != 1:
        return None
    event = event_type["event"].iloc[0]
    left = "after funnel exclusion " if mode == "no_funnel" else ""
    others = (
        "the position and store tables, which split the same attribution by place in the "
        "session and by store"
        if config.columns.store_id
        else "the position table, which splits the same attribution by place in the session"
    )
    return _warning(
        "single_event_type",
        f"The event-type table has one row: {left}{event!r} is the only event type left, so it "
        f"takes all of every session's attribution and its lift is 0 by construction. Read "
        f"{others}.",
    )


def _truncated(counts: Mapping[str, Any], config: Config) -> dict[str, str] | None:
    """More than :data:`MAX_TRUNCATED_SHARE` of the events cut by ``max_len``."""
    cut = counts["dropped_rows"].get("truncated", 0)
    if cut <= MAX_TRUNCATED_SHARE * (cut + counts["events"]):
        return None
    sessions = config.sessions
    kept = "first" if sessions.truncate == "head" else "last"
    return _warning(
        "long_sessions",
        f"{counts['truncated_sessions']:,} of {counts['sessions']:,} sessions are longer than "
        f"[sessions] max_len = {sessions.max_len} and keep their {kept} {sessions.max_len} "
        f"events: {cut:,} events ({cut / (cut + counts['events']):.0%}) are never seen by the "
        f"model. Raise max_len, set truncate = "
        + ('"tail" to keep the events nearest the conversion' if kept == "first" else '"head"')
        + ", or split long sessions by inactivity ([sessions] derive_sessions = true).",
    )


def _rare(counts: Mapping[str, Any], name: str, config: Config) -> dict[str, str] | None:
    """More than :data:`MAX_UNKNOWN_SHARE` of the events' ``name`` values read ``<unk>``."""
    coverage = counts.get("vocabulary", {}).get(name)
    if not coverage or coverage["unknown_share"] <= MAX_UNKNOWN_SHARE:
        return None
    what, table = _RARE[name]
    return _warning(
        f"rare_{name}s",
        f"{coverage['unknown_share']:.0%} of the events carry {what} seen fewer than [train] "
        f"min_count = {config.train.min_count} times in training (the model knows "
        f"{coverage['known_values']:,}): they share one <unk> embedding, so the model cannot "
        f"tell them apart; {table}, the rare ones marked low support. Lower min_count, or map a "
        f"coarser column (a chain, a category) to the role.",
    )


_RARE = {  # vocabulary -> (what one value is, the table that still shows every value)
    "event": ("an event type", "the event-type table still lists every type"),
    "store": ("a store", "the store table still lists every store"),
}


def _no_funnel_events(summary: Mapping[str, Any], config: Config) -> dict[str, str] | None:
    """No event is a funnel event: both modes see the same events."""
    if _funnel_declared(summary):
        return None
    sessions = config.sessions
    by_category = (
        f"no event has a category in funnel_categories {list(sessions.funnel_categories)}"
        if config.columns.event_category
        else "no [columns] event_category is mapped to match funnel_categories"
    )
    by_name = (
        f"none of [sessions] funnel_events {list(sessions.funnel_events)} occurs"
        if sessions.funnel_events
        else "[sessions] funnel_events is empty"
    )
    suggestion = summary.get("funnel_suggestion") or {}
    advice = (
        f"The leak rules point at {', '.join(suggestion['events'])}: if they are funnel steps, "
        f"set {suggestion['config']}."
        if suggestion
        else "List the add-to-cart and checkout events in [sessions] funnel_events."
    )
    return _warning(
        "no_funnel_events",
        f"No event is a funnel event ({by_name} and {by_category}), so no_funnel and with_funnel "
        f"see the same events. {advice}",
    )


def _funnel_declared(summary: Mapping[str, Any]) -> bool:
    if summary["mode"] == "no_funnel":
        return summary["counts"]["dropped_rows"].get("funnel_events", 0) > 0
    return bool(summary["attribution"].get("funnel_events"))


def _undeclared_leaks(summary: Mapping[str, Any], config: Config) -> dict[str, str] | None:
    """Leaks named outside a declared funnel (without one, :func:`_no_funnel_events` says it)."""
    suggestion = summary.get("funnel_suggestion") or {}
    if not suggestion or not _funnel_declared(summary):
        return None
    return _warning(
        "undeclared_leaks",
        f"The leak rules name {', '.join(suggestion['events'])}, which [sessions] does not "
        f"declare as funnel steps (see Likely leaks for the evidence). If they are funnel "
        f"steps, set {suggestion['config']}.",
    )


def _session_end_cut(summary: Mapping[str, Any]) -> dict[str, str] | None:
    """Session length or the last event carries the label: the cut at conversion."""
    entry = summary.get("session_end") or {}
    if not entry.get("flagged"):
        return None
    reason = entry["reason"][0].upper() + entry["reason"][1:]
    return _warning("session_end_cut", f"{reason}. To remove it, {entry['fix']}.")


def _detail_unmapped(config: Config) -> dict[str, str] | None:
    if not config.sessions.use_event_detail or config.columns.event_detail:
        return None
    return _warning(
        "event_detail_unmapped",
        "[sessions] use_event_detail is on but no [columns] event_detail is mapped: the model's "
        "tokens are the event names alone.",
    )
