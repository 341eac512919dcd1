"""Training for the Spark path: on the driver from a sample, or with ``TorchDistributor``.

Driver training collects only the *encoded* id arrays of the training and validation sessions
(a sample when ``[spark] sample_sessions`` is set, chosen by a seeded hash so it does not depend
on partitioning) and runs the local trainer, so checkpoints are those of the local path. Both
ways train on the same sample: one share of the training and validation sessions together.

Distributed training writes the encoded sessions as Parquet shards; each of ``num_processes``
ranks (gloo on CPUs, NCCL on GPUs) reads its own files, and DDP averages the gradients. Uneven
shards are handled by DDP's ``join``; validation logits of all ranks are gathered so every rank
takes the same early-stopping decision. Every rank returns the same result (the best weights as
safetensors bytes), as ``TorchDistributor`` in local mode keeps only one rank's return value.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from eventlift.config import Config
from eventlift.data.encode import EncodedSessions
from eventlift.data.schema import SPLITS
from eventlift.model.trainer import TrainResult
from eventlift.model.transformer import EventTransformer
from eventlift.spark.attribute import to_encoded
from eventlift.spark.prepare import ID_COLUMNS, SparkSessions
from eventlift.spark.settings import SparkSettings

__all__ = [
    "collect_encoded",
    "hash_sample",
    "sample_share",
    "train_distributed",
    "train_on_driver",
]

_COLUMNS = ["session_id", "converted", "n_events", "split", *ID_COLUMNS]


def sample_share(prepared: SparkSessions, splits: Sequence[str], limit: int) -> float:
    """The share of the sessions of ``splits`` to keep so that about ``limit`` remain (0: all)."""
    total = sum(prepared.split_counts[split]["sessions"] for split in splits)
    return min(1.0, limit / total) if limit and total else 1.0


def hash_sample(
    sessions: Any, splits: Sequence[str], share: float, seed: int, columns: Sequence[str] = _COLUMNS
) -> Any:
    """The sessions of ``splits`` whose seeded hash of the id falls below ``share``.

    The hash does not depend on partitioning or on the split, so the same ``share`` and ``seed``
    choose the same sessions in every call: the baselines see the training sample of the model.
    """
    from pyspark.sql import functions as F

    chosen = sessions.filter(F.col("split").isin(*splits)).select(*columns)
    if share < 1.0:
        unit = (F.abs(F.xxhash64("session_id", F.lit(seed))) % 1_000_000) / 1_000_000
        chosen = chosen.filter(unit < share)
    return chosen


def collect_encoded(
    prepared: SparkSessions,
    config: Config,
    *,
    splits: Sequence[str] = SPLITS[:2],
    limit: int = 0,
) -> EncodedSessions:
    """The encoded sessions of ``splits`` (a seeded sample of about ``limit``) on the driver."""
    share = sample_share(prepared, splits, limit)
    frame = hash_sample(prepared.sessions, splits, share, config.train.seed).toPandas()
    frame = frame.sort_values("session_id", kind="stable").reset_index(drop=True)
    encoded = to_encoded(frame, config.sessions.max_len)
    encoded.vocabularies = prepared.vocabularies
    return encoded


def _new_model(config: Config, prepared: SparkSessions) -> EventTransformer:
    sizes = {name: len(vocab) for name, vocab in prepared.vocabularies.items()}
    return EventTransformer(config.model, sizes, config.sessions.max_len)


def train_on_driver(
    prepared: SparkSessions, config: Config, settings: SparkSettings
) -> tuple[EventTransformer, TrainResult]:
    """Train with the local trainer on the collected (sampled) training and validation sets."""
    from eventlift.model.batching import select_device
    from eventlift.model.trainer import seed_everything, train

    encoded = collect_encoded(prepared, config, limit=settings.sample_sessions)
    device = select_device(config.train.device)
    seed_everything(config.train.seed)
    model = _new_model(config, prepared).to(device)
    result = train(model, encoded, config.train, device=device)
    return model.cpu().eval(), result


def train_distributed(
    prepared: SparkSessions, config: Config, settings: SparkSettings, staging_dir: str
) -> tuple[EventTransformer, TrainResult]:
    """Train with ``TorchDistributor`` on ``num_processes`` ranks reading Parquet shards.

    ``staging_dir`` must be visible to every training process as a local path (on Databricks a
    ``/dbfs/...`` or ``/Volumes/...`` path).
    """
    from pyspark.ml.torch.distributor import TorchDistributor
    from safetensors.torch import load

    world = settings.num_processes
    share = sample_share(prepared, SPLITS[:2], settings.sample_sessions)
    for split in SPLITS[:2]:
        shard = hash_sample(prepared.sessions, (split,), share, config.train.seed)
        shard.repartition(world).write.mode("overwrite").parquet(os.path.join(staging_dir, split))
    sizes = {name: len(vocab) for name, vocab in prepared.vocabularies.items()}
    payload = {
        "staging_dir": staging_dir,
        "config": config.to_dict(),
        "vocab_sizes": sizes,
        "threads": settings.task_threads,
        "use_gpu": settings.use_gpu,
    }
    distributor = TorchDistributor(
        num_processes=world, local_mode=_local_mode(prepared), use_gpu=settings.use_gpu
    )
    outcome = distributor.run(_train_rank, payload)
    model = _new_model(config, prepared)
    model.load_state_dict(load(outcome["weights"]))
    result = TrainResult(
        best_epoch=outcome["best_epoch"],
        best_val_auc=outcome["best_val_auc"],
        history=outcome["history"],
        seconds=outcome["seconds"],
    )
    return model.eval(), result


def _local_mode(prepared: SparkSessions) -> bool:
    master = prepared.sessions.sparkSession.sparkContext.master
    return master.startswith("local")


def _read_shard(folder: str, rank: int, world: int, max_len: int) -> EncodedSessions:
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(folder, "*.parquet")))[rank::world]
    frames = [pq.read_table(f).to_pandas() for f in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_COLUMNS)
    return to_encoded(frame, max_len)


def _train_rank(payload: dict) -> dict:
    """One training process: DDP over the rank's shard, early stopping on gathered AUC."""
    import copy
    import time

    import torch
    import torch.distributed as dist
    from safetensors.torch import save
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    from eventlift.model.batching import iterate_batches, make_batch
    from eventlift.model.trainer import classification_metrics, predict_logits

    config = Config.from_dict(payload["config"])
    use_gpu = payload["use_gpu"] and torch.cuda.is_available()
    dist.init_process_group("nccl" if use_gpu else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if use_gpu else "cpu")
    torch.set_num_threads(payload["threads"])
    torch.manual_seed(config.train.seed)  # same initial weights on every rank
    max_len = config.sessions.max_len
    train_data = _read_shard(os.path.join(payload["staging_dir"], "train"), rank, world, max_len)
    val_data = _read_shard(os.path.join(payload["staging_dir"], "validation"), rank, world, max_len)
    model = EventTransformer(config.model, payload["vocab_sizes"], max_len).to(device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if use_gpu else None)
    settings = config.train
    pos_weight = torch.tensor(settings.pos_weight, device=device) if settings.pos_weight else None
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.AdamW(
        ddp.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    rng = np.random.default_rng(settings.seed + rank)
    rows, val_rows = np.arange(len(train_data)), np.arange(len(val_data))
    best = {"epoch": 0, "auc": -math.inf, "state": copy.deepcopy(model.state_dict())}
    history, started = [], time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        ddp.train()
        with ddp.join():
            for batch_rows in iterate_batches(
                train_data.lengths, rows, settings.batch_size, rng=rng
            ):
                batch = make_batch(train_data, batch_rows, device)
                loss = loss_fn(ddp(batch), batch["label"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        logits = (
            predict_logits(model, val_data, val_rows, device=device)
            if len(val_rows)
            else np.zeros(0, dtype=np.float32)
        )
        gathered: list = [None] * world
        dist.all_gather_object(gathered, (val_data.labels, logits))
        labels = np.concatenate([g[0] for g in gathered])
        auc = classification_metrics(labels, np.concatenate([g[1] for g in gathered]))["auc"]
        history.append({"epoch": epoch, "val_auc": auc})
        if auc > best["auc"] or best["epoch"] == 0:
            best = {"epoch": epoch, "auc": auc, "state": copy.deepcopy(model.state_dict())}
        elif epoch - best["epoch"] >= settings.patience:
            break
    dist.destroy_process_group()
    state = {k: v.detach().cpu().contiguous() for k, v in best["state"].items()}
    return {
        "weights": save(state),
        "best_epoch": best["epoch"],
        "best_val_auc": float(best["auc"]),
        "history": history,
        "seconds": time.perf_counter() - started,
    }
