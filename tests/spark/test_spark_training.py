"""Spark training runs the local training loop: the same weights from the same sessions.

One log of sessions derived by inactivity (users with more than nine sessions, so ids such as
``u0#10`` sort differently as text than as the local path holds them) is prepared on both paths.
Training on the driver and with one ``TorchDistributor`` rank must give the local weights and
the local history of validation checks (within-epoch checks, a capped validation sample, patience
counted in checks). Two ranks round floats differently, so they must stop within one check of
the local run, report the AUC of their own model on the same validation sample, and not differ
from the local model's validation AUC beyond a DeLong 95% interval for the difference of two
correlated AUCs (DeLong, DeLong & Clarke-Pearson 1988) over the whole validation split.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eventlift.config import Config
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events
from eventlift.model.trainer import _validation_sample as validation_sample
from eventlift.model.trainer import (
    classification_metrics,
    predict_logits,
    seed_everything,
    train,
)
from eventlift.model.transformer import EventTransformer
from support.logs import random_log

SESSIONS_PER_USER = 11


def _config() -> Config:
    return Config.from_dict(
        {
            "columns": {
                "session_id": "",
                "user_id": "user_id",
                "store_id": "store_id",
                "event_category": "event_category",
            },
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32},
            "train": {
                "seed": 5,
                "min_count": 1,
                "epochs": 8,
                "patience": 2,
                "validate_every": 150,
                "validation_sessions": 50,
                "batch_size": 32,
                "learning_rate": 2e-3,
            },
        }
    )


@pytest.fixture(scope="module")
def paths(spark):
    """The sessions on both paths, and the model the local path trains on them (one thread, as
    each distributed rank runs)."""
    from eventlift.spark.canonical import to_canonical
    from eventlift.spark.prepare import prepare_sessions as spark_prepare

    log = random_log(500, seed=6).drop(columns=["row_number"])
    number = log["session_id"].str[1:].astype(int)
    log["user_id"] = "u" + (number // SESSIONS_PER_USER).astype(str)  # sessions 10,000 s apart
    config = _config()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    _, _, encoded = prepare_sessions(read_events(log, config), config, "no_funnel")
    seed_everything(config.train.seed)
    sizes = {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
    model = EventTransformer(config.model, sizes, config.sessions.max_len)
    result = train(model, encoded, config.train)
    prepared = spark_prepare(to_canonical(spark.createDataFrame(log), config), config, "no_funnel")
    yield {"encoded": encoded, "model": model, "result": result, "prepared": prepared}
    prepared.sessions.unpersist()
    torch.set_num_threads(threads)


def test_sessions_reach_the_trainer_in_the_local_order(paths):
    from eventlift.spark.train import collect_encoded, session_order

    encoded, prepared = paths["encoded"], paths["prepared"]
    collected = collect_encoded(prepared, prepared.config)
    kept = encoded.split < 2  # training and validation
    assert collected.session_ids.tolist() == encoded.session_ids[kept].tolist()
    assert "u0#10" in collected.session_ids.tolist()
    explicit = prepared.config.replace(columns={"session_id": "session_id"})
    ordered = prepared.sessions.orderBy(*session_order(explicit)).select("session_id").collect()
    assert [row.session_id for row in ordered] == sorted(encoded.session_ids.tolist())


def test_driver_trains_the_local_weights(paths):
    from eventlift.spark.settings import SparkSettings
    from eventlift.spark.train import train_on_driver

    local = paths["result"]
    assert {h["part"] for h in local.history} == {1, 2, 3}  # checks within each epoch
    assert len(local.history) < 3 * _config().train.epochs  # early stopping ended training
    trained = train_on_driver(paths["prepared"], paths["prepared"].config, SparkSettings())
    _assert_trains_the_local_model(paths, *trained)


@pytest.mark.spark
def test_one_rank_trains_the_local_weights(paths, tmp_path):
    from eventlift.spark.settings import SparkSettings
    from eventlift.spark.train import train_distributed

    prepared = paths["prepared"]
    settings = SparkSettings(train="distributor", num_processes=1)
    trained = train_distributed(prepared, prepared.config, settings, str(tmp_path))
    _assert_trains_the_local_model(paths, *trained)


def _assert_trains_the_local_model(paths, model: torch.nn.Module, result) -> None:
    local = paths["result"]
    assert _largest_difference(model, paths["model"]) <= 1e-6
    assert len(result.history) == len(local.history)
    for found, expected in zip(result.history, local.history, strict=True):
        assert found["sessions_seen"] == expected["sessions_seen"]
        assert found["val_auc"] == pytest.approx(expected["val_auc"], abs=1e-9)
        assert found["train_loss"] == pytest.approx(expected["train_loss"], rel=1e-6)
    assert (result.best_epoch, result.best_val_auc) == (local.best_epoch, local.best_val_auc)


@pytest.mark.spark
def test_two_ranks_stop_with_the_local_run_at_a_matching_auc(paths, tmp_path):
    from eventlift.spark.settings import SparkSettings
    from eventlift.spark.train import train_distributed

    encoded, local, prepared = paths["encoded"], paths["result"], paths["prepared"]
    settings = SparkSettings(train="distributor", num_processes=2)
    model, result = train_distributed(prepared, prepared.config, settings, str(tmp_path))
    assert abs(len(result.history) - len(local.history)) <= 1
    n_train = len(encoded.indices("train"))
    for found, expected in zip(result.history, local.history, strict=False):
        assert (found["epoch"], found["part"]) == (expected["epoch"], expected["part"])
        if found["part"] == 3:
            assert found["sessions_seen"] == found["epoch"] * n_train
    validation = encoded.indices("validation")
    sample = validation_sample(validation, _config().train)
    assert len(sample) == 50 < len(validation)  # the cap is drawn over both ranks' sessions
    scored = classification_metrics(encoded.labels[sample], predict_logits(model, encoded, sample))
    assert result.best_val_auc == pytest.approx(scored["auc"], abs=1e-6)
    ours, theirs = (predict_logits(m, encoded, validation) for m in (paths["model"], model))
    assert np.abs(ours - theirs).max() < 1e-4  # the ranks averaged the whole batches' gradients
    low, high = _delong_interval(encoded.labels[validation], ours, theirs)
    assert low <= 0.0 <= high, (low, high)


def _largest_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    theirs = b.state_dict()
    return max(float((value - theirs[name]).abs().max()) for name, value in a.state_dict().items())


def _delong_interval(
    labels: np.ndarray, first: np.ndarray, second: np.ndarray, z: float = 1.96
) -> tuple[float, float]:
    """DeLong's interval for AUC(first) - AUC(second), both scored on the same sessions."""
    positive = labels == 1

    def components(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        above = scores[positive][:, None] - scores[~positive][None, :]  # (P, N)
        wins = (above > 0) + 0.5 * (above == 0)
        return wins.mean(axis=1), wins.mean(axis=0)  # per positive, per negative

    (v1, w1), (v2, w2) = components(first), components(second)
    covariance = np.cov([v1, v2]) / len(v1) + np.cov([w1, w2]) / len(w1)
    spread = math.sqrt(max(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1], 0.0))
    difference = float(v1.mean() - v2.mean())
    return difference - z * spread, difference + z * spread
