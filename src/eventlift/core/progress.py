"""Progress reporting without a console dependency in the library.

Long stages (training epochs, attribution batches) report through a :class:`Progress` object.
The library's default does nothing; the CLI passes one that draws rich progress bars. Notebook
users can pass their own (anything with the same two methods).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["NO_PROGRESS", "Progress", "SilentProgress"]


class Progress(Protocol):
    """Reports work on named tasks of known size."""

    def task(self, description: str, total: int) -> contextmanager:  # pragma: no cover
        """Context manager yielding ``advance(n=1)`` for a task of ``total`` steps."""

    def note(self, message: str) -> None:  # pragma: no cover
        """A one-line status message (e.g. the validation AUC after an epoch)."""


class SilentProgress:
    """Reports nothing: the library default."""

    @contextmanager
    def task(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        yield lambda n=1: None

    def note(self, message: str) -> None:
        return None


NO_PROGRESS = SilentProgress()
