"""Models of several members: the rule that sizes them, their training, attribution, checkpoints."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from eventlift.attribution import GradientXInput, attribute_sessions
from eventlift.config import Config
from eventlift.data.prepare import prepare_sessions
from eventlift.model.batching import make_batch
from eventlift.model.capacity import settle_capacity
from eventlift.model.checkpoint import load_checkpoint, save_checkpoint
from eventlift.model.trainer import classification_metrics, predict_logits, seed_everything, train
from eventlift.model.transformer import EventTransformer
from support.logs import random_log

CONFIG = {
    "columns": {"user_id": "user_id", "store_id": "store_id"},
    "sessions": {"conversion_events": ["buy"], "max_len": 12},
    "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "members": 3},
    "train": {"epochs": 6, "batch_size": 32, "min_count": 1, "learning_rate": 5e-3},
}


@pytest.fixture(scope="module")
def ensemble():
    config = Config.from_dict(CONFIG)
    _, _, encoded = prepare_sessions(random_log(400), config, "no_funnel")
    seed_everything(config.train.seed)
    sizes = {name: len(v) for name, v in encoded.vocabularies.items()}
    model = EventTransformer(config.model, sizes, config.sessions.max_len)
    result = train(model, encoded, config.train)
    return config, model, encoded, result


@pytest.mark.parametrize(
    ("training", "dropout", "weight_decay", "members"),
    [(2_800, 0.1, 0.1, 5), (4_000, 0.1, 0.1, 3), (7_000, 0.0, 0.01, 2), (700_000, 0.0, 0.01, 1)],
)
def test_auto_capacity_follows_the_training_split(training, dropout, weight_decay, members):
    settled, record = settle_capacity(Config(), training)
    assert (settled.model.dropout, settled.train.weight_decay) == (dropout, weight_decay)
    assert settled.model.members == members
    assert record["members"] == members and record["training_sessions"] == training
    assert set(record["source"].values()) == {"auto"}
    assert f"{training:,} training sessions" in record["why"]


def test_values_written_in_the_config_win_over_the_rule():
    given = Config().replace(model={"members": 2, "dropout": 0.3}, train={"weight_decay": 0.0})
    settled, record = settle_capacity(given, 2_800)
    assert (settled.model.members, settled.model.dropout, settled.train.weight_decay) == (2, 0.3, 0)
    assert record["source"] == {"dropout": "config", "members": "config", "weight_decay": "config"}
    assert "as configured" in record["why"]


def test_each_member_keeps_its_own_best_check(ensemble):
    _, model, encoded, result = ensemble
    assert len(model.members) == 3
    rows = encoded.indices("validation")
    labels = encoded.labels[rows]
    members = predict_logits(model, encoded, rows, per_member=True)  # (3, N)
    history = np.array([h["member_val_auc"] for h in result.history])  # (checks, 3)
    for index, logits in enumerate(members):
        assert classification_metrics(labels, logits)["auc"] == pytest.approx(
            history[:, index].max(), abs=1e-9
        )
    # the run's validation AUC is that of the members' mean with those weights
    mean = classification_metrics(labels, members.mean(axis=0))["auc"]
    assert result.best_val_auc == pytest.approx(mean, abs=1e-9)
    # the members differ: they started from different draws
    first, second = (member.event_embedding.weight for member in model.members[:2])
    assert not torch.equal(first, second)


def test_the_ensemble_is_the_mean_of_its_members_for_logits_and_attribution(ensemble):
    config, model, encoded, _ = ensemble
    rows = np.arange(len(encoded.lengths))
    together = attribute_sessions(GradientXInput(model), encoded, rows)
    alone_scores, alone_logits = [], []
    for member in model.members:
        single = EventTransformer(
            dataclasses.replace(config.model, members=1), model.vocab_sizes, model.max_len
        )
        single.members[0].load_state_dict(member.state_dict())
        alone = attribute_sessions(GradientXInput(single.eval()), encoded, rows)
        alone_scores.append(alone.raw)
        alone_logits.append(predict_logits(single, encoded, rows))
    np.testing.assert_allclose(together.raw, np.mean(alone_scores, axis=0), atol=1e-5)
    np.testing.assert_allclose(
        predict_logits(model, encoded, rows), np.mean(alone_logits, axis=0), atol=1e-5
    )
    batch = make_batch(encoded, rows[:8], torch.device("cpu"))
    assert model.embed(batch).shape[-1] == 3 * config.model.d_model


def test_checkpoints_keep_every_member_and_older_ones_still_load(ensemble, tmp_path):
    from safetensors.torch import load_file, save_file

    _, model, encoded, _ = ensemble
    rows = encoded.indices("test")
    save_checkpoint(tmp_path / "model", model, encoded.vocabularies)
    loaded = load_checkpoint(tmp_path / "model").model
    assert len(loaded.members) == 3
    np.testing.assert_array_equal(
        predict_logits(loaded, encoded, rows), predict_logits(model, encoded, rows)
    )
    # a checkpoint of format 1 (one model, weights without the "members.0." prefix)
    one = dataclasses.replace(model.config, members=1)
    single = EventTransformer(one, model.vocab_sizes, model.max_len)
    single.members[0].load_state_dict(model.members[0].state_dict())
    weights, meta = save_checkpoint(tmp_path / "old", single, encoded.vocabularies)
    state = {k.removeprefix("members.0."): v for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights))
    described = json.loads(meta.read_text())
    described["format_version"] = 1
    del described["model_config"]["members"]
    del described["weights_sha256"]  # format 1 recorded no hash
    meta.write_text(json.dumps(described))
    old = load_checkpoint(tmp_path / "old").model
    np.testing.assert_array_equal(
        predict_logits(old, encoded, rows), predict_logits(single, encoded, rows)
    )
