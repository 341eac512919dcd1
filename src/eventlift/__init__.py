"""eventlift: which steps of a user's session drive conversion.

Train a Transformer on ordered session events, explain every prediction event by event, and roll
the scores up by event type, position, store and event at position. Start with :func:`run`, or
:func:`compare` for both modes and the leakage verdict.
"""

from eventlift.config import Config, load_config
from eventlift.core.versions import VERSION
from eventlift.exceptions import (
    CheckpointError,
    ConfigError,
    DataError,
    EmptyInputError,
    EventliftError,
    LabelError,
    MalformedLinesError,
    MissingColumnError,
    TimestampError,
)

__version__ = VERSION

__all__ = [
    "CheckpointError",
    "Config",
    "ConfigError",
    "DataError",
    "EmptyInputError",
    "EventliftError",
    "LabelError",
    "MalformedLinesError",
    "MissingColumnError",
    "RunResult",
    "TimestampError",
    "__version__",
    "compare",
    "load_config",
    "run",
]


def __getattr__(name: str):
    """Import the pipeline lazily: ``import eventlift`` stays quick for the CLI's ``--help``."""
    if name in ("run", "compare", "RunResult"):
        from eventlift.workflow import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'eventlift' has no attribute {name!r}")
