"""The ``eventlift`` command: a thin layer that parses arguments, calls the library and prints."""

from eventlift.cli.commands import app, main

__all__ = ["app", "main"]
