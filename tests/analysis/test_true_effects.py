"""The true removal effects of a synthetic log follow from its planted contributions exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.true_effects import true_removal_effects
from eventlift.data.ground_truth import GroundTruth


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _truth() -> GroundTruth:
    sessions = pd.DataFrame(
        {"session_id": ["s1", "s2", "s3"], "user_id": ["u", "u", "v"],
         "probability": [0.5, 0.2, 0.9], "converted": [True, False, True]}
    )  # fmt: skip
    contributions = pd.DataFrame(
        {"session_id": ["s1", "s1", "s1", "s2", "s3"], "position": [1, 2, 7, 1, 3],
         "event": ["a", "b", "a", "a", "b"], "store_id": [None] * 5,
         "contribution": [1.0, -1.0, 0.25, 0.5, 2.0]}
    )  # fmt: skip
    return GroundTruth(
        event_effects={"a": 1.0, "b": -1.0}, event_categories={}, funnel_events=[],
        conversion_event="buy", position_effect={}, store_effects={}, store_names={},
        best_store="", order_effect=0.0, order_window=0, event_cost=0.0,
        sessions=sessions, contributions=contributions,
    )  # fmt: skip


def test_each_group_loses_its_contributions_from_the_logit():
    found = true_removal_effects(_truth(), ["s1", "s2"], [1, 6])
    logit = {"s1": 0.0, "s2": np.log(0.2 / 0.8)}
    a = [0.5 - _sigmoid(logit["s1"] - 1.25), 0.2 - _sigmoid(logit["s2"] - 0.5)]
    b = [0.5 - _sigmoid(logit["s1"] + 1.0)]  # s3 holds b too, but is not among the sessions
    assert found["event_type"]["a"] == pytest.approx(100 * np.mean(a))
    assert found["event_type"]["b"] == pytest.approx(100 * np.mean(b))
    # positions 1-5 hold a(1.0), b(-1.0) in s1 and a(0.5) in s2; 6+ holds s1's second a
    first = [0.5 - _sigmoid(logit["s1"] - 0.0), 0.2 - _sigmoid(logit["s2"] - 0.5)]
    assert found["position"][1] == pytest.approx(100 * np.mean(first))
    assert found["position"][6] == pytest.approx(100 * (0.5 - _sigmoid(-0.25)))
    assert set(found["event_type"].index) == {"a", "b"}
