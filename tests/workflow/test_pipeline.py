"""End to end on a small log: every output exists with the published schema, in files and DuckDB."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

import eventlift
from eventlift.data.schema import EVENT_LEVEL_COLUMNS
from eventlift.model.calibration import CALIBRATION_METHODS
from support.logs import random_log

PUBLISHED = {
    "event_type": [
        "event",
        "n_events",
        "n_sessions",
        "attr_converted",
        "attr_not_converted",
        "lift",
        "lift_ci_low",
        "lift_ci_high",
        "lift_length_adjusted",
        "low_support",
    ],
    "position": [
        "position_bucket",
        "n_events",
        "attr_converted",
        "attr_not_converted",
        "lift",
        "lift_ci_low",
        "lift_ci_high",
        "lift_length_adjusted",
        "low_support",
    ],
    "store": [
        "store_id",
        "store_name",
        "n_events",
        "n_sessions",
        "attr_converted",
        "attr_not_converted",
        "lift",
        "lift_ci_low",
        "lift_ci_high",
        "session_conversion_rate",
        "low_support",
    ],
    "event_position": [
        "position",
        "event",
        "n_events",
        "attr_converted",
        "attr_not_converted",
        "lift",
        "low_support",
    ],
}
FILES = {
    "event_type": "event_type_attribution",
    "position": "position_attribution",
    "store": "store_attribution",
    "event_position": "event_position_attribution",
}


@pytest.fixture(scope="module")
def run_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = eventlift.Config.from_dict(
        {
            "columns": {
                "user_id": "user_id",
                "event_category": "event_category",
                "store_id": "store_id",
                "store_name": "store_name",
            },
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32},
            "train": {"epochs": 2, "batch_size": 64, "min_count": 1},
            "attribution": {"bootstrap": 20, "min_support": 2},
            "output": {"dir": str(out)},
        }
    )
    events = random_log(300)
    return eventlift.run(events, config, mode="no_funnel"), out, events


def test_tables_have_the_published_columns(run_result):
    result, out, _ = run_result
    for key, columns in PUBLISHED.items():
        assert list(result.tables[key].columns[: len(columns)]) == columns, key
        on_disk = pd.read_csv(out / "outputs" / f"{FILES[key]}_no_funnel.csv")
        assert list(on_disk.columns[: len(columns)]) == columns
        assert len(on_disk) == len(result.tables[key])
    level = pd.read_parquet(out / "outputs" / "gradient_attribution_no_funnel.parquet")
    assert list(level.columns[: len(EVENT_LEVEL_COLUMNS)]) == list(EVENT_LEVEL_COLUMNS)


def test_event_level_rows_and_shares(run_result):
    result, out, _ = run_result
    level = result.event_level()
    assert len(level) == result.sessions.counts["events"]
    # the files are written chunk by chunk: the same rows, in the same order, as the whole table
    on_disk = pd.read_parquet(out / "outputs" / "gradient_attribution_no_funnel.parquet")
    expected = level.astype({c: "str" for c in ("session_id", "event", "split")})
    for column in ("session_id", "event", "split", "attribution", "predicted_probability"):
        np.testing.assert_array_equal(on_disk[column].to_numpy(), expected[column].to_numpy())
    chunks = list(result.event_level_chunks(chunk_sessions=7))
    assert len(chunks) == -(-len(result.session_table) // 7)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), level)
    text = pd.read_csv(out / "outputs" / "gradient_attribution_no_funnel.csv")
    assert len(text) == len(level) and text["converted"].dtype == bool
    np.testing.assert_allclose(text["attribution"], level["attribution"])
    sums = level.groupby("session_id")["attribution"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, rtol=1e-5)
    assert set(level["split"]) == {"train", "validation", "test"}
    assert level["predicted_probability"].between(0, 1).all()
    # the roll-ups use the test split only
    test_events = level[level["split"] == "test"]
    assert result.tables["event_type"]["n_events"].sum() == len(test_events)


def test_database_holds_the_same_tables(run_result):
    result, out, _ = run_result
    with duckdb.connect(str(out / "eventlift.duckdb"), read_only=True) as con:
        names = {
            row[0]
            for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert {
            "event_attribution_no_funnel",
            "event_type_attribution_no_funnel",
            "position_attribution_no_funnel",
            "store_attribution_no_funnel",
            "event_position_attribution_no_funnel",
        } <= names
        n = con.execute("SELECT count(*) FROM event_attribution_no_funnel").fetchone()[0]
    assert n == len(result.event_level())


def test_summary_and_model_files(run_result):
    _, out, _ = run_result
    summary = json.loads((out / "outputs" / "run_summary_no_funnel.json").read_text())
    for key in (
        "mode",
        "config",
        "counts",
        "metrics",
        "baselines",
        "leakage",
        "timings_s",
        "versions",
    ):
        assert key in summary
    for key in ("test_auc", "test_pr_auc", "test_log_loss", "val_auc", "best_epoch"):
        assert key in summary["metrics"]
    assert summary["baselines"]["logistic"]["test_auc"] > 0.9  # "good" decides the label
    assert summary["counts"]["rows_read"] == len(run_result[2])
    # the model was sized for this small log, and the config it ran with says so
    capacity = summary["capacity"]
    training = summary["counts"]["sessions_by_split"]["train"]["sessions"]
    assert capacity["training_sessions"] == training < 5_000
    assert (capacity["dropout"], capacity["weight_decay"]) == (0.1, 0.1)
    assert summary["config"]["model"]["members"] == capacity["members"] >= 1
    assert "write" in summary["timings_s"]
    assert (out / "outputs" / "best_transformer_no_funnel.safetensors").stat().st_size > 1000
    assert (out / "plots" / "attention_attribution_analysis_no_funnel.png").stat().st_size > 10_000
    assert not list(out.rglob("*.tmp"))


def test_write_false_leaves_no_files(tmp_path):
    config = {
        "columns": {"user_id": "user_id"},
        "sessions": {"conversion_events": ["buy"], "max_len": 12},
        "model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8},
        "train": {"epochs": 1, "min_count": 1},
        "attribution": {"bootstrap": 0},
        "output": {"dir": str(tmp_path / "nothing")},
    }
    result = eventlift.run(random_log(200), config, write=False)
    assert result.files == {} and not (tmp_path / "nothing").exists()
    assert list(result.summary["skipped_outputs"]) == ["store_attribution"]  # no store_id
    assert set(result.tables) == {
        "event_type",
        "position",
        "event_position",
        "event_position_matrix",
        "triangulation",
        "rank_agreement",
        "event_type_removal",
    }


def test_trust_checks_are_reported(run_result):
    result, out, _ = run_result
    summary = json.loads((out / "outputs" / "run_summary_no_funnel.json").read_text())
    faithfulness = summary["faithfulness"]
    assert faithfulness["method"] == "grad_x_input"
    assert len(faithfulness["deletion_curve"]) == len(faithfulness["fractions"]) == 11
    assert isinstance(faithfulness["flagged"], bool)
    assert summary["completeness_gap"] is None  # gradient x input has no baseline
    tau = summary["triangulation"]["kendall_tau"]
    assert tau["transformer_lift"]["transformer_lift"] == 1.0
    assert set(tau) == {
        "transformer_lift",
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "markov_removal",
    }
    triangulation = pd.read_csv(out / "outputs" / "triangulation_no_funnel.csv")
    events = set(result.tables["event_type"]["event"])
    assert set(triangulation["event"]) <= events
    # every converted test session hands out exactly one unit of linear credit
    assert triangulation["linear"].sum() == pytest.approx(1.0)
    removal = pd.read_csv(out / "outputs" / "event_type_removal_no_funnel.csv")
    assert {"event", "mean_logit_drop"} <= set(removal.columns)


def test_integrated_gradients_run_reports_a_small_completeness_gap():
    config = {
        "columns": {"user_id": "user_id", "store_id": "store_id"},
        "sessions": {"conversion_events": ["buy"], "max_len": 12},
        "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 16},
        "train": {"epochs": 2, "min_count": 1},
        "attribution": {"bootstrap": 0, "faithfulness_sessions": 0},
    }
    result = eventlift.run(random_log(200), config, method="integrated_gradients", write=False)
    assert result.summary["attribution"]["method"] == "integrated_gradients"
    assert 0 <= result.summary["completeness_gap"] < 0.02
    assert "faithfulness" not in result.summary and "event_type_removal" not in result.tables


def test_the_verdict_pairs_the_model_with_the_baseline_chosen_on_validation(run_result):
    _, out, _ = run_result
    summary = json.loads((out / "outputs" / "run_summary_no_funnel.json").read_text())
    verdict, baselines = summary["baseline_verdict"], summary["baselines"]
    chosen = [name for name, entry in baselines.items() if entry["chosen"]]
    assert chosen == [verdict["baseline"]]
    best_on_validation = max(baselines, key=lambda name: baselines[name]["val_auc"])
    assert baselines[best_on_validation]["val_auc"] == baselines[chosen[0]]["val_auc"]
    # the paired AUCs are the run's own test AUCs, on the same test sessions
    assert verdict["auc_a"] == pytest.approx(summary["metrics"]["test_auc"], abs=1e-9)
    assert verdict["auc_b"] == pytest.approx(baselines[chosen[0]]["test_auc"], abs=1e-9)
    assert verdict["ci_low"] < verdict["difference"] < verdict["ci_high"]
    assert verdict["better_than_counting"] == (verdict["ci_low"] > 0)
    warned = [w["code"] for w in summary["warnings"]].count("not_better_than_counting")
    assert warned == (0 if verdict["better_than_counting"] else 1)
    assert "test_scores" not in json.dumps(baselines)


def test_predicted_probabilities_are_calibrated_on_validation(run_result):
    result, _, _ = run_result
    calibration = result.summary["calibration"]
    assert calibration["requested"] == "auto" and calibration["method"] in CALIBRATION_METHODS
    counts = result.summary["counts"]["sessions_by_split"]
    assert calibration["validation_sessions"] == counts["validation"]["sessions"]
    assert calibration["test_sessions"] == counts["test"]["sessions"]
    assert set(calibration["validation_log_loss"]) == set(CALIBRATION_METHODS)
    for key in ("ece_before", "ece_after"):
        assert 0 <= calibration[key] < 1
    # every event carries its session's calibrated probability, not the plain sigmoid
    scores = result.attribution
    first = result.event_level().groupby("session_id", sort=False)["predicted_probability"].first()
    np.testing.assert_allclose(first.to_numpy(), scores.probabilities, rtol=1e-12)
    plain = 1 / (1 + np.exp(-scores.logits.astype(np.float64)))
    assert np.abs(scores.probabilities - plain).max() > 1e-3


def test_store_effects_are_shrunk_beside_their_raw_values(run_result):
    result, _, _ = run_result
    stores = result.tables["store"]
    for column in ("effect_pp", "effect_ci_low", "effect_ci_high", "q_value", "effect_shrunk",
                   "lift_shrunk"):  # fmt: skip
        assert column in stores.columns
    held = stores["effect_pp"].notna()
    assert held.any()
    # pulled toward a common centre: the spread of the shrunk values is never larger
    raw, shrunk = stores.loc[held, "effect_pp"], stores.loc[held, "effect_shrunk"]
    assert np.var(shrunk) <= np.var(raw) + 1e-12
    assert stores["lift_shrunk"].notna().sum() == stores["lift"].notna().sum()
