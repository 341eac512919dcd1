"""Training learns, is reproducible from the seed, and checkpoints reload without pickle."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from eventlift.data.encode import gap_bucket
from eventlift.data.prepare import prepare_sessions
from eventlift.exceptions import EventliftError
from eventlift.model.batching import make_batch
from eventlift.model.checkpoint import load_checkpoint, save_checkpoint
from eventlift.model.trainer import (
    _validation_sample,
    classification_metrics,
    predict_logits,
    seed_everything,
    train,
)
from eventlift.model.transformer import EventTransformer
from support.logs import random_log


def fit(config, events):
    _, _, encoded = prepare_sessions(events, config, "no_funnel")
    seed_everything(config.train.seed)
    sizes = {name: len(v) for name, v in encoded.vocabularies.items()}
    model = EventTransformer(config.model, sizes, config.sessions.max_len)
    result = train(model, encoded, config.train)
    return model, encoded, result


@pytest.fixture(scope="module")
def trained(request):
    from eventlift.config import Config

    config = Config.from_dict(
        {
            "columns": {"user_id": "user_id", "store_id": "store_id"},
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "dropout": 0.0},
            "train": {"epochs": 8, "batch_size": 32, "min_count": 1, "learning_rate": 5e-3},
        }
    )
    return config, *fit(config, random_log(600))


def test_training_learns_the_planted_driver(trained):
    _, model, encoded, result = trained
    test = encoded.indices("test")
    auc = classification_metrics(encoded.labels[test], predict_logits(model, encoded, test))["auc"]
    assert auc > 0.95
    assert 1 <= result.best_epoch <= len(result.history)
    assert result.best_val_auc == max(h["val_auc"] for h in result.history)


def test_validation_checks_within_epochs_and_a_capped_validation_sample(trained):
    config, _, _, whole_epochs = trained
    n_train = len(prepare_sessions(random_log(600), config, "no_funnel")[2].indices("train"))
    n_validation = len(
        prepare_sessions(random_log(600), config, "no_funnel")[2].indices("validation")
    )
    checks = config.replace(train={"validate_every": n_train // 3, "validation_sessions": 40})
    _, encoded, result = fit(checks, random_log(600))
    # each epoch is cut into 4 parts (n_train // 3 does not divide n_train): 4 checks per epoch
    parts = [(h["epoch"], h["part"]) for h in result.history]
    assert parts[:5] == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1)]
    seen = [h["sessions_seen"] for h in result.history]
    assert seen[3] == n_train and seen == sorted(seen) and len(set(seen)) == len(seen)
    # patience counts checks: training stops 3 checks after the best one, or at the last epoch
    best = max(range(len(result.history)), key=lambda i: result.history[i]["val_auc"])
    assert len(result.history) in (best + 1 + config.train.patience, 4 * config.train.epochs)
    assert result.best_epoch == result.history[best]["epoch"]
    rows = encoded.indices("validation")
    assert len(rows) == n_validation > 40
    sample = _validation_sample(rows, checks.train)
    assert len(sample) == 40 and set(sample) <= set(rows) and list(sample) == sorted(sample)
    np.testing.assert_array_equal(sample, _validation_sample(rows, checks.train))
    assert len(_validation_sample(rows, config.train)) == n_validation  # default cap: 50,000
    assert len(whole_epochs.history) <= config.train.epochs
    assert [h["part"] for h in whole_epochs.history] == [1] * len(whole_epochs.history)


def test_same_seed_gives_identical_weights(trained):
    config, model, _, _ = trained
    again, _, _ = fit(config, random_log(600))
    for (name, a), (_, b) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_checkpoint_round_trip_gives_identical_predictions(trained, tmp_path):
    _, model, encoded, _ = trained
    weights, meta = save_checkpoint(tmp_path / "model", model, encoded.vocabularies, {"mode": "x"})
    assert weights.suffix == ".safetensors" and meta.suffix == ".json"
    document = json.loads(meta.read_text())
    assert document["vocabularies"]["event"][:2] == ["<pad>", "<unk>"]
    loaded = load_checkpoint(tmp_path / "model")
    rows = np.arange(len(encoded))
    np.testing.assert_array_equal(
        predict_logits(model, encoded, rows), predict_logits(loaded.model, encoded, rows)
    )
    assert loaded.vocabularies == encoded.vocabularies
    assert loaded.metadata == {"mode": "x"}
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_checkpoint_file_is_a_clear_error(tmp_path):
    with pytest.raises(EventliftError, match=r"model.safetensors' is missing"):
        load_checkpoint(tmp_path / "model")


def test_gap_buckets_are_log2_and_capped():
    assert gap_bucket(np.array([0, 1, 3, 7, 1e9, np.nan]), 16).tolist() == [1, 2, 3, 4, 15, 1]


def test_cls_only_last_block_gives_the_full_models_logits_and_gradients(trained):
    _, model, encoded, _ = trained
    deeper = EventTransformer(
        dataclasses.replace(model.config, n_layers=3),
        {name: len(v) for name, v in encoded.vocabularies.items()},
        model.max_len,
    ).eval()
    batch = make_batch(encoded, np.arange(64), torch.device("cpu"))
    for net in (model.eval(), deeper):
        x = net.embed(batch).detach().requires_grad_(True)
        fast, _ = net.logits_from_embeddings(x, batch["keep"])
        (fast_grad,) = torch.autograd.grad(fast.sum(), x)
        full, weights = net.logits_from_embeddings(x, batch["keep"], need_weights=True)
        (full_grad,) = torch.autograd.grad(full.sum(), x)
        assert len(weights) == len(net.members[0].blocks)
        torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fast_grad, full_grad, rtol=1e-4, atol=1e-6)


def _corrupt(stem, kind):
    """One kind of damage to a saved checkpoint pair."""
    weights, meta = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    document = json.loads(meta.read_text())
    if kind == "bit_flip":
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0x01
        weights.write_bytes(bytes(data))
    elif kind == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif kind == "empty_weights":
        weights.write_bytes(b"")
    elif kind == "truncated_json":
        meta.write_text(meta.read_text()[:50])
    elif kind == "json_list":
        meta.write_text("[1, 2]")
    elif kind == "not_utf8":
        meta.write_bytes(b"\xff\xfe\x00garbage")
    elif kind in ("no_vocabularies", "no_model_config", "no_max_len"):
        document.pop(kind[3:])
        meta.write_text(json.dumps(document))
    elif kind == "bad_model_config":
        document["model_config"]["unknown_knob"] = 1
        meta.write_text(json.dumps(document))
    elif kind == "wrong_vocabulary_size":
        document["vocabularies"]["event"].append("extra")
        document.pop("weights_sha256")  # a hand-edited pair: the shapes still have to fit
        meta.write_text(json.dumps(document))
    elif kind == "future_format":
        document["format_version"] = 99
        meta.write_text(json.dumps(document))
    elif kind == "vocabulary_not_a_list":
        document["vocabularies"] = 5
        meta.write_text(json.dumps(document))


CORRUPTIONS = (
    ("bit_flip", r"do not match the SHA-256"),
    ("truncated_weights", r"do not match the SHA-256"),
    ("empty_weights", r"do not match the SHA-256"),
    ("truncated_json", r"not a readable checkpoint description"),
    ("json_list", r"not a JSON object"),
    ("not_utf8", r"not a readable checkpoint description"),
    ("no_vocabularies", r"incomplete or malformed \(KeyError"),
    ("no_model_config", r"incomplete or malformed \(KeyError"),
    ("no_max_len", r"incomplete or malformed \(KeyError"),
    ("bad_model_config", r"incomplete or malformed \(TypeError"),
    ("wrong_vocabulary_size", r"do not fit the model described in model\.json"),
    ("future_format", r"checkpoint format 99 is not supported"),
    ("vocabulary_not_a_list", r"incomplete or malformed \(AttributeError"),
)


@pytest.mark.parametrize(("kind", "message"), CORRUPTIONS, ids=[k for k, _ in CORRUPTIONS])
def test_every_damaged_checkpoint_is_a_checkpoint_error(trained, tmp_path, kind, message):
    from eventlift.exceptions import CheckpointError

    _, model, encoded, _ = trained
    save_checkpoint(tmp_path / "model", model, encoded.vocabularies, {"mode": "x"})
    _corrupt(tmp_path / "model", kind)
    with pytest.raises(CheckpointError, match=message) as raised:
        load_checkpoint(tmp_path / "model")
    assert str(tmp_path / "model") in str(raised.value)  # the file is named
