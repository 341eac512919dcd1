"""One small real output folder for the report tests, trained once per test session.

Some event and store names are hostile on purpose: the report must show them as text and never
run them. The payloads set ``window.__pwned`` so that a browser test can tell whether one ran.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eventlift
from support.logs import random_log

EVIL_EVENT = '<script>window.__pwned = 1; alert("x")</script>'
EVIL_STORE = '</script><img src=x onerror="window.__pwned = 2"> Fish & Chips'
EVIL_STORE_ID = "st&2"
EVIL_VERDICT = '<img src=x onerror="window.__pwned = 3"> with_funnel leaks: funnel & co'
COMPARISON = {
    "verdict": EVIL_VERDICT,
    "rows": [
        {"mode": "no_funnel", "test_auc": 0.7123, "funnel_attribution_share": 0.0},
        {"mode": "with_funnel", "test_auc": 0.9812, "funnel_attribution_share": 0.6234},
    ],
    "non_funnel_rank_correlation": 0.4321,
    "ranks": [
        {"event": "view", "rank_no_funnel": 1, "rank_with_funnel": 4},
        {"event": "click", "rank_no_funnel": 2, "rank_with_funnel": 5},
    ],
}

_BUILT: dict[str, Path] = {}


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """The output folder of a tiny ``no_funnel`` run, plus a hand-written ``comparison.json``."""
    if "run" not in _BUILT:
        out = factory.mktemp("report_run")
        events = random_log(300)
        events["event"] = events["event"].replace("search", EVIL_EVENT)
        events["store_id"] = events["store_id"].replace("st2", EVIL_STORE_ID)
        events.loc[events["store_id"] == "st1", "store_name"] = EVIL_STORE
        config = {
            "columns": {
                "user_id": "user_id",
                "event_category": "event_category",
                "store_id": "store_id",
                "store_name": "store_name",
            },
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 16},
            "train": {"epochs": 1, "batch_size": 64, "min_count": 1},
            "attribution": {"bootstrap": 20, "min_support": 2, "faithfulness_sessions": 40},
            "output": {"dir": str(out), "database": ""},
        }
        eventlift.run(events, config, mode="no_funnel")
        (out / "comparison.json").write_text(json.dumps(COMPARISON))
        _BUILT["run"] = out
    return _BUILT["run"]
