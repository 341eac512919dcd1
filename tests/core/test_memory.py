"""Freed memory goes back to the operating system between stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eventlift.core.memory import _malloc_trim, release_freed_memory


def resident_mb() -> float:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1e3


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim")
def test_freed_heap_pages_are_returned():
    # 3,000 blocks of 64 KB (under malloc's mmap threshold: they live on the heap); keeping every
    # hundredth one pins the heap, so freeing the others alone does not shrink the process
    blocks = [np.ones(8_000) for _ in range(3_000)]
    kept = blocks[::100]
    del blocks
    before = resident_mb()
    release_freed_memory()
    after = resident_mb()
    assert before - after > 100, (before, after)
    assert all(block.sum() == 8_000 for block in kept)
