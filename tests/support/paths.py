"""Where the repository and the shared data beside it are, for tests in any folder."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO", "SHARED_DATA"]

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
