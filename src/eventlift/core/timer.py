"""Seconds per named stage of a run, for the run summary (local and Spark runs alike)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from eventlift.core.memory import release_freed_memory

__all__ = ["StageTimer"]


class StageTimer:
    """Collects wall-clock seconds per named stage for the run summary, and hands the memory a
    stage freed back to the OS when it ends (:func:`eventlift.core.memory.release_freed_memory`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        release_freed_memory()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)
