"""The public API is stable: what ``import eventlift`` offers, and that the CLI starts light."""

from __future__ import annotations

import subprocess
import sys

import eventlift


def test_public_names():
    assert set(eventlift.__all__) == {
        "Config", "ConfigError", "DataError", "EmptyInputError", "EventliftError", "LabelError",
        "MalformedLinesError", "MissingColumnError", "RunResult", "TimestampError", "__version__",
        "compare", "load_config", "run",
    }  # fmt: skip
    assert callable(eventlift.run) and callable(eventlift.compare)
    for name in eventlift.__all__:
        assert getattr(eventlift, name) is not None


def test_errors_share_one_root_and_stay_value_errors():
    for error in (
        eventlift.ConfigError,
        eventlift.DataError,
        eventlift.MissingColumnError,
        eventlift.EmptyInputError,
        eventlift.TimestampError,
        eventlift.LabelError,
        eventlift.MalformedLinesError,
    ):
        assert issubclass(error, eventlift.EventliftError) and issubclass(error, ValueError)


def test_cli_help_does_not_import_torch():
    code = "import sys; from eventlift.cli import app; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
