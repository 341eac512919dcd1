"""Seed stability: extra models really train, the run's own seed is reused, ranks are compared."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import eventlift
from eventlift.exceptions import ConfigError
from eventlift.model.capacity import settle_capacity
from eventlift.workflow.stability import seed_lifts
from support.logs import random_log


def _config(out, **attribution):
    return eventlift.Config.from_dict(
        {
            "columns": {"user_id": "user_id", "store_id": "store_id"},
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 16},
            "train": {"epochs": 2, "min_count": 1, "seed": 5},
            "attribution": {"bootstrap": 0, "faithfulness_sessions": 0, **attribution},
            "output": {"dir": str(out), "database": ""},
        }
    )


@pytest.fixture(scope="module")
def stable_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("stability")
    return eventlift.run(random_log(400), _config(out, stability_seeds=3)), out


def test_three_seeds_give_lifts_ranks_and_pairwise_correlations(stable_run):
    result, out = stable_run
    table = result.tables["seed_stability"]
    summary = result.summary["seed_stability"]
    assert summary["seeds"] == [5, 6, 7]
    assert set(summary["spearman"]) == {"5-6", "5-7", "6-7"}
    values = list(summary["spearman"].values())
    assert all(-1 <= value <= 1 for value in values)
    assert summary["mean_spearman"] == pytest.approx(np.mean(values))
    assert summary["min_spearman"] == pytest.approx(min(values))
    # The run's own seed is not retrained: its column is the run's event-type lift.
    run_lift = result.tables["event_type"].set_index("event")["lift"]
    own = table.set_index("event")["lift_seed_5"]
    pd.testing.assert_series_equal(own.sort_index(), run_lift.sort_index(), check_names=False)
    # Other seeds train other models, so their lifts differ from the run's.
    assert not np.allclose(table["lift_seed_6"], table["lift_seed_5"])
    assert table["rank_seed_6"].min() == 1 and table["rank_range"].ge(0).all()
    assert table["lift_mean"].is_monotonic_decreasing
    written = pd.read_csv(out / "outputs" / "seed_stability_no_funnel.csv")
    assert list(written.columns) == list(table.columns) and len(written) == len(table)
    on_disk = json.loads((out / "outputs" / "run_summary_no_funnel.json").read_text())
    assert on_disk["seed_stability"]["seeds"] == [5, 6, 7]


def test_a_retrained_seed_reproduces_the_run(stable_run, tmp_path):
    # Training with the run's own seed on the same split must give the run's lift again: the
    # stability columns compare models, not the randomness of the comparison itself.
    result, _ = stable_run
    # the run sized its model for the log: the retrained seed gets the same settled config
    config, _ = settle_capacity(_config(tmp_path), len(result.encoded.indices("train")))
    lifts, auc = seed_lifts(
        result.sessions, result.session_table["split"], result.encoded, config, seed=5
    )
    run_lift = result.tables["event_type"].set_index("event")["lift"]
    np.testing.assert_allclose(lifts.sort_index(), run_lift.sort_index(), atol=1e-6)
    assert auc == pytest.approx(result.metrics["test_auc"], abs=1e-6)


@pytest.mark.parametrize("seeds", [1, -2])
def test_stability_seeds_must_be_zero_or_at_least_two(seeds, tmp_path):
    with pytest.raises(ConfigError, match="stability_seeds"):
        _config(tmp_path, stability_seeds=seeds)
