"""Write files under a temporary name and move them into place only when complete.

A reader (a dashboard, a second run) never sees half a file: either the previous version or the
new one. The temporary file lives in the target folder so the final ``os.replace`` is atomic.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["atomic_path", "write_csv", "write_json", "write_parquet"]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, else vanishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(temporary)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV without the index."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)
    return Path(path)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Parquet without the index."""
    with atomic_path(path) as temporary:
        frame.to_parquet(temporary, index=False)
    return Path(path)


def write_json(data: Any, path: str | Path) -> Path:
    """Pretty JSON; NaN and infinities become null so any JSON reader accepts the file."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(_clean(data), indent=2, default=str) + "\n")
    return Path(path)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
