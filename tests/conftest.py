"""Shared test helpers: tiny hand-made logs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_events(rows: list[tuple], start: str = "2024-01-01") -> pd.DataFrame:
    """A canonical event frame from (session, user, seconds, event, category, store) tuples."""
    frame = pd.DataFrame(
        rows, columns=["session_id", "user_id", "seconds", "event", "event_category", "store_id"]
    )
    frame["timestamp"] = pd.Timestamp(start) + pd.to_timedelta(frame.pop("seconds"), unit="s")
    frame["event_detail"] = None
    frame["store_name"] = frame["store_id"].map(lambda s: None if s is None else f"Store {s}")
    frame["row_number"] = np.arange(len(frame), dtype=np.int64)
    columns = [
        "session_id",
        "user_id",
        "timestamp",
        "event",
        "event_category",
        "event_detail",
        "store_id",
        "store_name",
        "row_number",
    ]
    return frame[columns]


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
