"""Signed effects: the arithmetic of a table's effects, and what a trained model says a planted
driver does."""

from __future__ import annotations

import numpy as np
import pytest

from eventlift.analysis.effects import EFFECT_COLUMNS, RemovalDeltas, effect_table


def test_effect_table_means_sums_intervals_and_q_values():
    rng = np.random.default_rng(0)
    n_sessions = 400
    session = np.concatenate([np.arange(n_sessions), np.arange(0, n_sessions, 2)])
    group = np.concatenate([np.zeros(n_sessions, int), np.ones(n_sessions // 2, int)])
    delta = np.concatenate(
        [rng.normal(0.05, 0.02, n_sessions), rng.normal(0.0, 0.02, n_sessions // 2)]
    )
    deltas = RemovalDeltas(session, group, delta, n_sessions)
    converted = rng.random(n_sessions) < 0.3
    table = effect_table(deltas, ["driver", "noise", "absent"], converted, bootstrap=200, seed=1)
    assert list(table.columns) == [*EFFECT_COLUMNS, "_effect_se"]
    driver, noise, absent = (table.loc[key] for key in ("driver", "noise", "absent"))
    assert driver["effect_pp"] == pytest.approx(100 * delta[:n_sessions].mean())
    assert driver["effect_conversions"] == pytest.approx(delta[:n_sessions].sum())
    assert driver["effect_ci_low"] < driver["effect_pp"] < driver["effect_ci_high"]
    assert driver["effect_ci_low"] > 0 and driver["q_value"] < 1e-6
    assert noise["effect_ci_low"] < 0 < noise["effect_ci_high"] and noise["q_value"] > 0.05
    assert absent.isna().all()
    # Benjamini-Hochberg over the two tested rows: the larger p-value is kept, the smaller doubled
    from scipy.stats import norm

    p = [
        2 * norm.sf(abs(part.mean()) / (part.std(ddof=1) / np.sqrt(len(part))))
        for part in (delta[:n_sessions], delta[n_sessions:])
    ]
    assert noise["q_value"] == pytest.approx(max(p), rel=1e-9)
    assert driver["q_value"] == pytest.approx(min(2 * min(p), max(p)), rel=1e-6)


def test_a_run_states_each_event_types_signed_effect(tmp_path):
    import eventlift
    from support.logs import random_log

    config = {
        "columns": {"user_id": "user_id", "event_category": "event_category"},
        "sessions": {"conversion_events": ["buy"], "max_len": 12},
        "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "members": 1},
        "train": {"epochs": 4, "batch_size": 64, "min_count": 1},
        "attribution": {"bootstrap": 50, "min_support": 2, "faithfulness_sessions": 0},
        "output": {"dir": str(tmp_path)},
    }
    result = eventlift.run(random_log(600, seed=2), config, mode="no_funnel", write=False)
    table = result.tables["event_type"].set_index("event")
    # "good" makes a session convert: removing it must cost predicted conversions, clearly
    good = table.loc["good"]
    assert good["effect_pp"] > 5 and good["effect_ci_low"] > 0 and good["q_value"] < 0.05
    assert good["effect_pp"] == table["effect_pp"].max()
    # every session of the test split is scored: expected conversions = mean x sessions holding
    np.testing.assert_allclose(
        table["effect_conversions"], table["effect_pp"] / 100 * table["n_sessions"], rtol=1e-9
    )
    positions = result.tables["position"]
    assert set(EFFECT_COLUMNS) <= set(positions.columns)
    assert positions["effect_pp"].notna().any()


def test_shrinkage_pulls_noisy_values_most_toward_the_weighted_mean():
    from eventlift.analysis.effects import shrink

    values = np.array([1.0, 2.0, 3.0, 10.0, np.nan])
    se = np.array([0.5, 0.5, 0.5, 4.0, 1.0])
    shrunk = shrink(values, se)
    usable = values[:4], se[:4]
    weights = 1 / usable[1] ** 2
    centre = (weights * usable[0]).sum() / weights.sum()
    spread = max(np.var(usable[0], ddof=1) - np.mean(usable[1] ** 2), 0.0)
    expected = centre + spread / (spread + usable[1] ** 2) * (usable[0] - centre)
    np.testing.assert_allclose(shrunk[:4], expected)
    assert np.isnan(shrunk[4])
    # the value seen with the largest error moves furthest toward the centre
    moved = np.abs(shrunk[:4] - values[:4]) / np.abs(values[:4] - centre)
    assert moved.argmax() == 3
    assert shrink(values[:2], se[:2]).tolist() == values[:2].tolist()  # too few to estimate
