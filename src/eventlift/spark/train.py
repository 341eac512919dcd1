"""Training for the Spark path: on the driver from a sample, or with ``TorchDistributor``.

Both ways run the local training loop (:func:`eventlift.model.trainer.train`), so early stopping,
the checks within an epoch, the validation sample and the precision are the same on every path.
Driver training collects only the *encoded* id arrays of the training and validation sessions
(a sample when ``[spark] sample_sessions`` is set, chosen by a seeded hash so it does not depend
on partitioning). Both ways train on the same sample, one share of the training and validation
sessions together, held in the local path's order (:func:`session_order`): the loop shuffles by
position, so the same sessions in another order would train other batches.

Distributed training writes the sorted sessions as Parquet shards, one per rank (gloo on CPUs,
NCCL on GPUs); each rank runs the loop over its shard as one of a :class:`_Ranks` group. Every
rank builds the driver's batches and trains on its own sessions of each, DDP averages the
gradients into those of the whole batch, and the validation logits of all ranks are gathered so
every rank takes the same early-stopping decision: any number of ranks trains as the driver
does, up to float rounding. Every rank returns the same result (the best weights as safetensors
bytes), as ``TorchDistributor`` in local mode keeps only one rank's return value.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from eventlift.config import Config
from eventlift.data.encode import EncodedSessions
from eventlift.data.schema import SPLITS
from eventlift.exceptions import ConfigError
from eventlift.model.trainer import TrainingGroup, TrainResult
from eventlift.model.transformer import EventTransformer
from eventlift.spark.attribute import to_encoded
from eventlift.spark.prepare import ID_COLUMNS, SparkSessions
from eventlift.spark.settings import SparkSettings

__all__ = [
    "collect_encoded",
    "hash_sample",
    "sample_share",
    "session_order",
    "train_distributed",
    "train_on_driver",
    "training_sessions",
]

_COLUMNS = ["session_id", "converted", "n_events", "split", *ID_COLUMNS]


def sample_share(prepared: SparkSessions, splits: Sequence[str], limit: int) -> float:
    """The share of the sessions of ``splits`` to keep so that about ``limit`` remain (0: all)."""
    total = sum(prepared.split_counts[split]["sessions"] for split in splits)
    return min(1.0, limit / total) if limit and total else 1.0


def training_sessions(prepared: SparkSessions, settings: SparkSettings) -> int:
    """About how many training sessions the model trains on: the split's, or its sampled share."""
    share = sample_share(prepared, SPLITS[:2], settings.sample_sessions)
    return round(prepared.split_counts["train"]["sessions"] * share)


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


def session_order(config: Config) -> list[Any]:
    """Spark sort keys giving the order in which the local path holds the sessions.

    Locally sessions follow their key's text (:func:`eventlift.data.sessions.build_sessions`):
    the session id, or, for sessions derived by inactivity (ids ``"<key>#<n>"``), the user or
    session key and then ``n`` as a number. Training shuffles by position, so both paths train on
    the same batches only when they hold the sessions in this order. ``config`` must have its
    ``[columns] session_id`` settled (:attr:`SparkSessions.config`).
    """
    from pyspark.sql import functions as F

    if config.columns.session_id and not config.sessions.derive_sessions:
        return [F.col("session_id")]
    pattern = r"^(.*)#([0-9]+)$"
    return [
        F.regexp_extract("session_id", pattern, 1),
        F.regexp_extract("session_id", pattern, 2).try_cast("long"),
        F.col("session_id"),
    ]


def collect_encoded(
    prepared: SparkSessions,
    config: Config,
    *,
    splits: Sequence[str] = SPLITS[:2],
    limit: int = 0,
) -> EncodedSessions:
    """The encoded sessions of ``splits`` (a seeded sample of about ``limit``) on the driver,
    in the local path's order (:func:`session_order`)."""
    share = sample_share(prepared, splits, limit)
    chosen = hash_sample(prepared.sessions, splits, share, config.train.seed)
    frame = chosen.orderBy(*session_order(prepared.config or config)).toPandas()
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

    The training and validation sessions are written range-partitioned and sorted by
    :func:`session_order`, one part per rank, so the ranks' shards taken in rank order are the
    sessions in the order the driver and the local path train on. ``staging_dir`` must be
    visible to every training process as a local path (on Databricks a ``/dbfs/...`` or
    ``/Volumes/...`` path).
    """
    from pyspark.ml.torch.distributor import TorchDistributor
    from safetensors.torch import load

    world = settings.num_processes
    share = sample_share(prepared, SPLITS[:2], settings.sample_sessions)
    order = session_order(prepared.config or config)
    chosen = hash_sample(prepared.sessions, SPLITS[:2], share, config.train.seed)
    folder = os.path.join(staging_dir, "sessions")
    chosen.repartitionByRange(world, *order).sortWithinPartitions(*order).write.mode(
        "overwrite"
    ).parquet(folder)
    sizes = {name: len(vocab) for name, vocab in prepared.vocabularies.items()}
    payload = {
        "folder": folder,
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
    model.load_state_dict(load(outcome.pop("weights")))
    return model.eval(), TrainResult(**outcome)


def _local_mode(prepared: SparkSessions) -> bool:
    master = prepared.sessions.sparkSession.sparkContext.master
    return master.startswith("local")


def _read_shard(folder: str, rank: int, world: int, max_len: int) -> EncodedSessions:
    """This rank's contiguous block of the sorted part files (part files sort in write order)."""
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(folder, "*.parquet")))
    mine = files[rank * len(files) // world : (rank + 1) * len(files) // world]
    frames = [pq.read_table(f).to_pandas() for f in mine]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_COLUMNS)
    return to_encoded(frame, max_len)


class _Ranks(TrainingGroup):
    """The ``torch.distributed`` processes of one ``TorchDistributor`` run, as a training group:
    DDP averages the gradients and ``all_gather_object`` shares counts, lengths and logits."""

    def __init__(self, device: torch.device) -> None:
        import torch.distributed as dist

        self.device = device
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def wrap(self, model: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def gather(self, value: Any) -> list[Any]:
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return gathered


def _train_rank(payload: dict) -> dict:
    """One training process: the local training loop over this rank's shard (:class:`_Ranks`).

    Every rank returns the same result, since every rank takes the same stopping decisions.
    """
    import dataclasses

    import torch.distributed as dist
    from safetensors.torch import save

    from eventlift.model.trainer import seed_everything, train

    config = Config.from_dict(payload["config"])
    use_gpu = payload["use_gpu"] and torch.cuda.is_available()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if use_gpu else "cpu")
    if use_gpu:
        torch.cuda.set_device(device)  # all_gather_object over NCCL uses the current device
    dist.init_process_group("nccl" if use_gpu else "gloo")
    try:
        torch.set_num_threads(payload["threads"])
        group = _Ranks(device)
        data = _read_shard(payload["folder"], group.rank, group.world, config.sessions.max_len)
        if not len(data.lengths):
            raise ConfigError(
                f"training process {group.rank} of {group.world} got no sessions to train on (the "
                f"sample holds too few sessions for that many processes). Fix: lower [spark] "
                f"num_processes, or raise [spark] sample_sessions."
            )
        seed_everything(config.train.seed)  # the same initial weights on every rank
        model = EventTransformer(config.model, payload["vocab_sizes"], config.sessions.max_len)
        result = train(model.to(device), data, config.train, device=device, group=group)
    finally:
        dist.destroy_process_group()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return {"weights": save(state), **dataclasses.asdict(result)}
