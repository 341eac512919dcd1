"""A full Spark run with TorchDistributor (local mode, 2 CPU processes, gloo) learns the driver."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eventlift.config import Config
from eventlift.data.schema import EVENT_LEVEL_COLUMNS
from support.logs import random_log

pytestmark = pytest.mark.spark


def test_distributed_training_run_learns_and_writes_tables(spark, tmp_path):
    from eventlift.spark.run import run
    from eventlift.spark.settings import SparkSettings

    log = random_log(600, seed=2).drop(columns=["row_number"])
    config = Config.from_dict(
        {
            "columns": {
                "user_id": "user_id",
                "store_id": "store_id",
                "event_category": "event_category",
            },
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 32, "n_layers": 1, "d_ff": 64},
            "train": {"min_count": 1, "epochs": 4, "batch_size": 64, "learning_rate": 5e-3},
            "attribution": {"min_support": 5},
            "output": {"dir": str(tmp_path)},
        }
    )
    settings = SparkSettings(train="distributor", num_processes=2)
    result = run(spark, spark.createDataFrame(log), config, settings=settings)
    assert result.summary["metrics"]["test_auc"] >= 0.7
    outputs = tmp_path / "outputs"
    event_level = pd.read_parquet(outputs / "event_attribution_no_funnel.parquet")
    assert list(event_level.columns) == [*EVENT_LEVEL_COLUMNS, "session_length"]
    assert event_level["session_id"].nunique() == 600
    event_type = pd.read_parquet(outputs / "event_type_attribution_no_funnel.parquet")
    assert event_type.sort_values("lift", ascending=False)["event"].iloc[0] == "good"
    assert (outputs / "best_transformer_no_funnel.safetensors").is_file()
    summary = json.loads((outputs / "run_summary_no_funnel.json").read_text())
    assert summary["counts"]["sessions"] == 600
