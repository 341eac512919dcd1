"""One row per run for the ``runs`` table, appended next to the result tables (never replaced).

A record says which run wrote the tables, from which configuration and which data, and how well
it did. ``config_hash`` is the SHA-256 of the resolved configuration as canonical JSON (keys
sorted, no spaces, database URLs with their password masked so that rotating a password does not
change it). ``data_fingerprint`` is the SHA-256 of a small canonical JSON document describing the
data the run saw: the number of input rows read, the number of attributed events, their first and
last timestamp, and the SHA-256 of the sorted distinct session ids of the event-level table. It
costs one sort of the session ids, and two runs of the same mode on the same input with the same
``[sessions]`` settings share it.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pandas as pd

from eventlift.core.versions import VERSION

if TYPE_CHECKING:
    from eventlift.config import Config

__all__ = ["RUNS_COLUMNS", "config_hash", "data_fingerprint", "run_record"]

# column -> logical type ("text", "timestamp", "float", "int"), in table order
RUNS_COLUMNS: dict[str, str] = {
    "run_id": "text",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "mode": "text",
    "config_hash": "text",
    "data_fingerprint": "text",
    "rows_read": "int",
    "sessions": "int",
    "events": "int",
    "test_auc": "float",
    "test_pr_auc": "float",
    "test_log_loss": "float",
    "val_auc": "float",
    "best_epoch": "int",
    "logistic_test_auc": "float",
    "lightgbm_test_auc": "float",
    "attribution_method": "text",
    "eventlift_version": "text",
    "tables": "text",  # the result tables this run wrote, comma-separated
}


def run_record(
    result_summary: dict[str, Any],
    config: Config,
    event_level: pd.DataFrame | None = None,
    *,
    finished_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``runs`` row of one mode's run, from its summary (``RunResult.summary``).

    ``event_level`` (the run's event-level table, or any frame with its events' ``session_id``
    and ``timestamp``) feeds the data fingerprint; without it the
    fingerprint covers the summary's counts only. ``started_at`` is the summary's ``started_at``
    when present, else ``finished_at`` minus the summed stage timings.
    """
    finished = (finished_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    started = result_summary.get("started_at")
    if isinstance(started, str):
        started = datetime.fromisoformat(started)
    if not isinstance(started, datetime):
        elapsed = sum(float(v) for v in (result_summary.get("timings_s") or {}).values())
        started = finished - timedelta(seconds=elapsed)
    started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
    counts = result_summary.get("counts") or {}
    metrics = result_summary.get("metrics") or {}
    baselines = result_summary.get("baselines") or {}
    attribution = result_summary.get("attribution") or {}
    versions = result_summary.get("versions") or {}
    record = {
        "run_id": str(uuid.uuid4()),
        "started_at": started.astimezone(timezone.utc),
        "finished_at": finished,
        "mode": result_summary.get("mode"),
        "config_hash": config_hash(config),
        "data_fingerprint": data_fingerprint(counts, event_level),
        "rows_read": counts.get("rows_read"),
        "sessions": counts.get("sessions"),
        "events": counts.get("events"),
        "test_auc": metrics.get("test_auc"),
        "test_pr_auc": metrics.get("test_pr_auc"),
        "test_log_loss": metrics.get("test_log_loss"),
        "val_auc": metrics.get("val_auc"),
        "best_epoch": metrics.get("best_epoch"),
        "logistic_test_auc": (baselines.get("logistic") or {}).get("test_auc"),
        "lightgbm_test_auc": (baselines.get("lightgbm") or {}).get("test_auc"),
        "attribution_method": attribution.get("method", config.attribution.method),
        "eventlift_version": versions.get("eventlift", VERSION),
        "tables": None,
    }
    return {name: _plain(record[name], kind) for name, kind in RUNS_COLUMNS.items()}


def config_hash(config: Config) -> str:
    """SHA-256 of the resolved configuration as canonical JSON, database passwords masked."""
    resolved = config.to_public_dict()
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_fingerprint(counts: dict[str, Any], event_level: pd.DataFrame | None) -> str:
    """SHA-256 of the input row count and the event-level rows, span and session ids."""
    document: dict[str, Any] = {"rows_read": counts.get("rows_read")}
    if event_level is None:
        document.update(events=counts.get("events"), sessions=counts.get("sessions"))
    else:
        stamps = pd.to_datetime(event_level["timestamp"]) if len(event_level) else None
        ids = pd.Series(event_level["session_id"].dropna().unique()).astype(str).tolist()
        document.update(
            events=len(event_level),
            min_timestamp=None if stamps is None else str(stamps.min()),
            max_timestamp=None if stamps is None else str(stamps.max()),
            session_ids=hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest(),
        )
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any, kind: str) -> Any:
    """A database-friendly value: None for missing or NaN, Python int/float/str/datetime."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        number = float(value)
        return None if math.isnan(number) else number
    if kind == "text":
        return str(value)
    return value
