"""Tiny hand-made logs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eventlift.config import Config
from eventlift.data.encode import EncodedSessions
from eventlift.data.schema import CANONICAL_COLUMNS

__all__ = ["encode_log", "make_events", "random_log", "vocab_sizes"]


def make_events(rows: list[tuple], start: str = "2024-01-01") -> pd.DataFrame:
    """A canonical event frame from (session, user, seconds, event, category, store) tuples."""
    frame = pd.DataFrame(
        rows, columns=["session_id", "user_id", "seconds", "event", "event_category", "store_id"]
    )
    frame["timestamp"] = pd.Timestamp(start) + pd.to_timedelta(frame.pop("seconds"), unit="s")
    frame["event_detail"] = None
    frame["store_name"] = frame["store_id"].map(lambda s: None if s is None else f"Store {s}")
    frame["row_number"] = np.arange(len(frame), dtype=np.int64)
    return frame[list(CANONICAL_COLUMNS)]


def random_log(n_sessions: int = 400, seed: int = 0, driver: str = "good") -> pd.DataFrame:
    """Sessions of 2-10 random events; a session converts exactly when it contains ``driver``."""
    rng = np.random.default_rng(seed)
    names = np.array(["view", "click", "search", "scroll", driver])
    rows = []
    for s in range(n_sessions):
        length = int(rng.integers(2, 11))
        events = rng.choice(names, size=length, p=[0.35, 0.2, 0.2, 0.17, 0.08])
        for i, event in enumerate(events):
            store = f"st{rng.integers(0, 5)}" if event in ("view", "click") else None
            rows.append((f"s{s}", f"u{s // 2}", s * 10_000 + i * 30, str(event), "browse", store))
        if driver in events:
            rows.append(
                (f"s{s}", f"u{s // 2}", s * 10_000 + length * 30, "buy", "conversion", None)
            )
    return make_events(rows)


def encode_log(n_sessions: int = 120, seed: int = 0, max_len: int = 12) -> EncodedSessions:
    """``random_log`` labelled, split and encoded (no_funnel), every value in the vocabulary."""
    from eventlift.data.prepare import prepare_sessions

    config = Config.from_dict(
        {
            "columns": {"user_id": "user_id", "store_id": "store_id"},
            "sessions": {"conversion_events": ["buy"], "max_len": max_len},
            "train": {"min_count": 1},
        }
    )
    _, _, encoded = prepare_sessions(random_log(n_sessions, seed=seed), config, "no_funnel")
    return encoded


def vocab_sizes(encoded: EncodedSessions) -> dict[str, int]:
    return {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
