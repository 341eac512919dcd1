"""Turn a profile of a source into a commented config that runs as written, and a summary of it.

The config ``eventlift init`` writes is the user's first run: every key it sets comes with the
evidence behind it (a comment above the key), every role it leaves out says why, and it holds
only keys the config reader accepts, so ``eventlift run`` on the file works before anyone edits
it. Paths are written relative to the config's folder, which is how :func:`eventlift.config.
load_config` resolves them, so the file and the data can move together.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from eventlift.data.peek import input_keys
from eventlift.data.profile import Profile
from eventlift.data.schema import ROLES
from eventlift.exceptions import EventliftError

__all__ = ["check_target", "render_config", "summary", "write_config"]

_WIDTH = 100
_LEFT_OUT = {
    "user_id": "no column looks like a user id",
    "event_category": "no column named like an event category is one value per event name",
    "event_detail": "no column is named like an event detail",
    "store_id": "no column is named like a store or item id",
    "store_name": "no column named like a store name is one value per store id",
}


def _value(value: Any) -> str:
    """A TOML value: strings and lists of strings as JSON writes them (valid TOML too)."""
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> list[str]:
    flat = " ".join(str(text).split())
    return textwrap.wrap(flat, _WIDTH - 2, initial_indent="# ", subsequent_indent="# ")


def _key(name: str, value: Any, why: str | None = None) -> list[str]:
    return [*(_comment(why) if why else []), f"{name} = {_value(value)}"]


def _relative(target: str, config_path: Path) -> str:
    """``target`` relative to the config's folder; absolute when they share only the root."""
    if "://" in target or target == ":memory:":
        return target
    base, resolved = config_path.resolve().parent, Path(target).resolve()
    if os.path.commonpath([base, resolved]) == resolved.anchor:
        return resolved.as_posix()
    return Path(os.path.relpath(resolved, base)).as_posix()


def render_config(profile: Profile, config_path: str | Path) -> str:
    """The TOML text of the config for ``profile``, to be written at ``config_path``.

    Parameters
    ----------
    profile : Profile
        What :func:`eventlift.data.profile.profile_source` found.
    config_path : str or Path
        Where the file will live: ``[input] path`` (or a database file) is written relative to
        its folder.
    """
    config_path = Path(config_path)
    lines = [
        f"# eventlift run {config_path.name}",
        *_comment(
            f"Proposed by eventlift init from the first {profile.rows:,} rows of "
            f"{profile.label}. Each key says why it was chosen; check them, then run the line "
            f"above (eventlift compare {config_path.name} also runs with the funnel events and "
            f"says how much they leak)."
        ),
        "",
        *_input_lines(profile, config_path),
        "",
        *_columns_lines(profile),
        "",
        *_sessions_lines(profile),
        "",
        "[output]",
        *_key("dir", "eventlift_output", "tables, plots, report.html and eventlift.duckdb"),
    ]
    return "\n".join(lines) + "\n"


def _input_lines(profile: Profile, config_path: Path) -> list[str]:
    lines = ["[input]"]
    allowed = input_keys()
    for key, value in profile.settings.items():
        if key in ("path", "database") and isinstance(value, str):
            value = _relative(value, config_path)
        if key in allowed:
            lines += _key(key, value, profile.notes.get(key))
    return lines


def _columns_lines(profile: Profile) -> list[str]:
    lines = ["[columns]"]
    for role in ROLES:
        column = profile.roles.get(role)
        if column is not None:
            lines += _key(role, column, f"{column!r}: {profile.evidence[column]}")
        elif role == "session_id":
            lines += _comment(
                "session_id: left out, no column groups events into sessions; they are derived "
                "from user_id (see [sessions] inactivity_gap_minutes)"
            )
            if "session_id" in profile.evidence:  # the default column exists: do not read it
                lines.append('session_id = ""')
        elif role in _LEFT_OUT:
            lines += _comment(f"{role}: left out, {_LEFT_OUT[role]} (optional)")
    mapped = set(profile.roles.values())
    for column, why in profile.evidence.items():
        if column not in mapped:
            lines += _comment(f"not mapped: {column!r}: {why}")
    return lines


def _sessions_lines(profile: Profile) -> list[str]:
    events = profile.events
    top = ", ".join(f"{name} ({count:,})" for name, count in events.top)
    lines = ["[sessions]", *_comment(f"Most frequent of {events.distinct} events: {top}")]
    why = events.conversion_why
    if events.conversion_alternatives:
        why += ". Alternatives: " + ", ".join(map(repr, events.conversion_alternatives))
    if not events.conversion:
        why += ". Name your purchase event here before running"
    lines += _key("conversion_events", events.conversion, why)
    chosen = set(events.funnel) | set(events.conversion)
    others = [name for name, _ in events.top if name not in chosen][:8]
    funnel_why = events.funnel_why + (
        ". Other frequent events: " + ", ".join(map(repr, others)) if others else ""
    )
    lines += _key("funnel_events", events.funnel, funnel_why)
    if profile.derive_sessions:
        lines += _key(
            "inactivity_gap_minutes",
            profile.gap_minutes,
            f"sessions are derived: a user's events split where they pause longer than this; "
            f"user id {profile.roles['user_id']!r}",
        )
    return lines


def check_target(path: str | Path, force: bool = False) -> None:
    """Raise :class:`EventliftError` unless a config may be written at ``path``.

    An existing file is replaced only with ``force``: it may hold a user's edits.
    """
    path = Path(path)
    if path.exists() and not force:
        raise EventliftError(
            f"{path}: the file exists; eventlift init does not overwrite it. Fix: pass --force to "
            f"replace it, or --out another.toml."
        )
    if not path.parent.is_dir():
        raise EventliftError(
            f"{path}: the folder {str(path.parent)!r} does not exist. Fix: create it, or pass "
            f"--out a file in an existing folder."
        )


def write_config(profile: Profile, path: str | Path, *, force: bool = False) -> Path:
    """Write :func:`render_config` to ``path`` (see :func:`check_target`) and return it."""
    path = Path(path)
    check_target(path, force)
    path.write_text(render_config(profile, path), encoding="utf-8")
    return path


def summary(profile: Profile) -> Group:
    """What the console shows: columns -> roles with evidence, the top events, what to check."""
    columns = Table(title=f"Columns of {profile.label} ({profile.rows:,} rows read)", expand=True)
    columns.add_column("column", overflow="fold", ratio=1)
    columns.add_column("role", min_width=len("event_category"))
    columns.add_column("evidence", overflow="fold", ratio=3)
    role_of = {column: role for role, column in profile.roles.items()}
    for column, why in profile.evidence.items():
        columns.add_row(column, role_of.get(column, "-"), why)
    events = Table(title=f"Most frequent events ({profile.events.distinct} in all)", expand=True)
    events.add_column("event", overflow="fold", ratio=3)
    events.add_column("rows", justify="right", ratio=1)
    events.add_column("proposed as", ratio=1)
    for name, count in profile.events.top:
        kind = "conversion" if name in profile.events.conversion else ""
        kind = kind or ("funnel" if name in profile.events.funnel else "")
        events.add_row(name, f"{count:,}", kind)
    checks = [f"conversion: {profile.events.conversion_why}"]
    if profile.events.funnel_why:
        checks.append(f"funnel: {profile.events.funnel_why}")
    if profile.derive_sessions:
        checks.append(
            f"sessions: derived from {profile.roles['user_id']!r} with a "
            f"{profile.gap_minutes:.0f}-minute inactivity gap"
        )
    checks += [f"{key}: {note}" for key, note in profile.notes.items()]
    checks += profile.checks
    return Group(columns, events, Text("Check:\n" + "\n".join(f"- {c}" for c in checks)))
