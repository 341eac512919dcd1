"""The errors eventlift raises on purpose.

Every problem a user can fix (a bad config key, a missing column, timestamps that do not parse, a
log without conversions) is raised as a subclass of :class:`EventliftError`, with a message that
names the thing, shows what was received and says how to fix it. Anything else escaping the
library is a bug. The subclasses also derive from ``ValueError`` so that generic handlers keep
working, following scikit-learn's habit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "EmptyInputError",
    "EventliftError",
    "LabelError",
    "MalformedLinesError",
    "MissingColumnError",
    "TimestampError",
    "format_rows",
    "found_columns",
]


class EventliftError(Exception):
    """Root of every error eventlift raises deliberately."""


class ConfigError(EventliftError, ValueError):
    """The configuration is invalid: unknown key, wrong type, or an impossible value."""


class DataError(EventliftError, ValueError):
    """The input events break the data contract."""


class MissingColumnError(DataError, KeyError):
    """A column that a configured role points to does not exist in the input."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class MalformedLinesError(DataError):
    """A file has malformed lines and ``[input] on_bad_lines = "error"`` refuses them."""


class EmptyInputError(DataError):
    """The input holds no events (or none survive the documented cleaning rules)."""


class TimestampError(DataError):
    """Timestamps cannot be parsed with the configured unit or format."""


class LabelError(DataError):
    """Labels cannot be formed: no conversions, only conversions, or unknown conversion events."""


class CheckpointError(EventliftError, ValueError):
    """A checkpoint pair that is missing, malformed, truncated, mismatched or tampered with."""


def format_rows(rows: Sequence[dict] | Iterable[dict], limit: int = 5) -> str:
    """Render a few offending rows as indented ``key=value`` lines for an error message."""
    lines = []
    for index, row in enumerate(rows):
        if index >= limit:
            break
        lines.append("    " + ", ".join(f"{key}={value!r}" for key, value in row.items()))
    return "\n".join(lines)


def found_columns(columns: list) -> str:
    """A few of the column names a source holds, for error messages."""
    shown = ", ".join(repr(c) for c in columns[:12])
    more = f", ... ({len(columns)} in all)" if len(columns) > 12 else ""
    return f"Columns found: {shown or 'none'}{more}."
