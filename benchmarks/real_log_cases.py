"""The logs of ``benchmarks/real_logs.py``: each a name, its shape in words, how to write it,
and whether the defaults were tuned on it (``tune``) or it is kept apart to judge them (``judge``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlift.data.exports import write_export
from eventlift.data.synthetic import VARIANTS, generate_events

OTTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "otto-sample.jsonl"
Builder = Callable[[Path, int, int], str]


class Stopped(Exception):
    """A step of one log failed; the message is the table's status."""


@dataclass(frozen=True)
class LogCase:
    """One log of the bench: its name, its shape in a few words, and how to write it."""

    name: str
    shape: str
    build: Builder  # (folder, sessions, seed) -> the DATA argument of `eventlift init`
    scale: float = 1.0  # sessions of this log as a multiple of --sessions
    role: str = "judge"  # "tune": the defaults were tuned on it; "judge": kept apart to judge


def synthetic(variant: str | None) -> Builder:
    """The generator's log (one of its named variants, or the demo's shape) as Parquet."""

    def build(folder: Path, sessions: int, seed: int) -> str:
        events, _ = generate_events(n_sessions=sessions, seed=seed, **VARIANTS.get(variant, {}))
        path = folder / "events.parquet"
        events.to_parquet(path, index=False)
        return str(path)

    return build


def export(name: str, *, data: str | None = None, **options: Any) -> Builder:
    """The demo's shape written as an awkward export: ``name`` under the folder, ``options`` of
    :func:`write_export`; ``data`` is what `init` is given instead of the path (a glob)."""

    def build(folder: Path, sessions: int, seed: int) -> str:
        events, _ = generate_events(n_sessions=sessions, seed=seed)
        write_export(events, folder / name, **options)
        return str(folder / (data or name))

    return build


def otto(folder: Path, sessions: int, seed: int) -> str:
    """The real sample, read where it lies (it is never copied)."""
    if not OTTO.is_file():
        raise Stopped(f"missing: {OTTO}")
    return str(OTTO)


CASES = (
    LogCase("otto", "real nested export, 20 users, epoch ms, no session id", otto),
    LogCase("demo", "the demo's shape, Parquet", synthetic(None), role="tune"),
    LogCase("short_sessions", "81 % of sessions 1-2 events", synthetic("short_sessions")),
    LogCase("few_event_types", "3 browsing event types", synthetic("few_event_types"), role="tune"),
    LogCase("one_event_type", "1 browsing event type", synthetic("one_event_type")),
    LogCase(
        "rare_conversions",
        "about 2 % convert, 2.5x the sessions",
        synthetic("rare_conversions"),
        scale=2.5,  # about 200 converting sessions at the default --sessions, not 80
    ),
    LogCase(
        "partial_funnel",
        "funnel steps in ~89 % of converting, 4-12 % of other sessions",
        synthetic("partial_funnel"),
    ),
    LogCase("strong_stores", "large store effects", synthetic("strong_store_effects"), role="tune"),
    LogCase("strong_order", "3x order bonus", synthetic("strong_order_effects"), role="tune"),
    LogCase("no_stores", "no store columns", synthetic("no_stores"), role="tune"),
    LogCase(
        "zone_names_cut",
        "CSV, '... 00:00:00 UTC', last line cut",
        export("events.csv", timestamps="zone_name", cut_last_line=True),
        role="tune",
    ),
    LogCase(
        "semicolon_bom_gz",
        "';' CSV, BOM, CRLF, gzip",
        export("events.csv.gz", delimiter=";", bom=True, crlf=True),
        role="tune",
    ),
    LogCase(
        "parts_glob",
        "4 gzipped CSV parts, a glob",
        export("events", parts=4, compression="gz", data="events/part-*.csv.gz"),
        role="tune",
    ),
    LogCase(
        "float_ids", "ids as floats (266079.0)", export("events.csv", float_ids=True), role="tune"
    ),
    LogCase(
        "numeric_events",
        "event codes 4 / 4.0",
        export("events.csv", numeric_events=True),
        role="tune",
    ),
    LogCase(
        "epoch_us",
        "CSV, epoch microseconds",
        export("events.csv", timestamps="epoch_us"),
        role="tune",
    ),
    LogCase(
        "no_session_id",
        "JSON lines, user id only",
        export("events.jsonl", drop=["session_id"]),
        role="tune",
    ),
    LogCase(
        "no_store_column",
        "CSV, no store columns",
        export("events.csv", drop=["store_id", "store_name"]),
        role="tune",
    ),
)
