"""Distributed attribution: ``mapInPandas`` over encoded sessions with the weights broadcast once.

The model travels as safetensors bytes plus a small JSON-able description (no pickled modules);
each Python worker rebuilds it once and keeps it for every later batch of the same model. Inside
a partition, sessions are scored with the local runner
(:func:`eventlift.attribution.attribute_sessions`: length-bucketed batches, one forward and one
backward per batch, eval mode), so the scores match the local path up to float rounding.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from eventlift.data.encode import EncodedSessions
from eventlift.data.schema import EVENT_LEVEL_COLUMNS, SESSION_LENGTH, SPLITS
from eventlift.model.calibration import Calibrator
from eventlift.model.transformer import EventTransformer
from eventlift.spark.prepare import ID_COLUMNS

__all__ = ["EVENT_LEVEL_SCHEMA", "attribute_spark", "pack_model", "to_encoded", "unpack_model"]

EVENT_LEVEL_SCHEMA = (
    "session_id string, position long, event string, event_category string, store_id string, "
    "store_name string, ts_us long, attribution_raw double, attribution double, "
    "converted boolean, predicted_probability double, split string, session_length long"
)
_FEATURES = {"event_ids": "event", "category_ids": "category", "store_ids": "store",
             "gap_ids": "gap"}  # fmt: skip
_MODELS: dict[str, EventTransformer] = {}  # per worker process: digest -> rebuilt model


def pack_model(model: EventTransformer) -> dict[str, Any]:
    """The model as plain data: safetensors bytes of the state dict and its constructor args."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save(state)
    description = {
        "model_config": asdict(model.config),
        "vocab_sizes": model.vocab_sizes,
        "max_len": int(model.max_len),
    }
    digest = hashlib.sha256(weights + json.dumps(description, sort_keys=True).encode()).hexdigest()
    return {"weights": weights, "description": description, "digest": digest}


def unpack_model(packed: dict[str, Any]) -> EventTransformer:
    """Rebuild (once per process) the model that :func:`pack_model` described, in eval mode."""
    from safetensors.torch import load

    from eventlift.config import ModelConfig

    model = _MODELS.get(packed["digest"])
    if model is None:
        description = packed["description"]
        model = EventTransformer(
            ModelConfig(**description["model_config"]),
            description["vocab_sizes"],
            description["max_len"],
        )
        model.load_state_dict(load(packed["weights"]))
        model.eval()
        _MODELS.clear()
        _MODELS[packed["digest"]] = model
    return model


def to_encoded(batch: pd.DataFrame, max_len: int) -> EncodedSessions:
    """A pandas batch of encoded session rows as the local :class:`EncodedSessions`."""
    n = len(batch)
    lengths = batch["n_events"].to_numpy(dtype=np.int64)
    inputs = {}
    for column, feature in _FEATURES.items():
        matrix = np.zeros((n, max_len), dtype=np.int32)  # (N, max_len)
        for row, ids in enumerate(batch[column]):
            matrix[row, : len(ids)] = ids
        inputs[feature] = matrix
    split = pd.Categorical(batch["split"], categories=list(SPLITS)).codes.astype(np.int8)
    return EncodedSessions(
        inputs=inputs,
        lengths=lengths,
        labels=batch["converted"].to_numpy(dtype=np.float32),
        split=split,
        session_ids=batch["session_id"].to_numpy(dtype=object),
    )


def attribute_spark(
    sessions: Any,
    model: EventTransformer,
    *,
    method: str = "grad_x_input",
    batch_size: int = 512,
    threads: int = 1,
    calibrator: Calibrator | None = None,
) -> Any:
    """Event-level rows (``EVENT_LEVEL_SCHEMA``, then ``timestamp``) for every encoded session.

    Parameters
    ----------
    sessions : the encoded sessions of :func:`eventlift.spark.prepare.prepare_sessions`.
    model : the trained model; sent once to the executors as a broadcast.
    method : attribution method by name (``[attribution] method``).
    batch_size : sessions per forward/backward pass, as ``[attribution] batch_size``.
    threads : torch threads per Python worker (one per core the task holds).
    calibrator : the run's calibration of the predicted probability (plain sigmoid when None).
    """
    from pyspark.sql import functions as F

    from eventlift.attribution import METHODS, get_attributor

    get_attributor(method, model)  # unknown methods fail here, on the driver
    shared = sessions.sparkSession.sparkContext.broadcast(pack_model(model))
    max_len = int(model.max_len)

    def score(batches):
        import torch

        from eventlift.attribution import attribute_sessions

        torch.set_num_threads(threads)
        local = unpack_model(shared.value)
        attributor = METHODS[method](local)
        for batch in batches:
            if batch.empty:
                continue
            encoded = to_encoded(batch, max_len)
            scores = attribute_sessions(attributor, encoded, batch_size=batch_size)
            if calibrator is not None:
                scores.probabilities = calibrator.probabilities(scores.logits)
            yield _event_rows(batch, encoded, scores)

    needed = ["session_id", "converted", "n_events", "split", "events", "categories", "stores",
              "store_names", "ts", *ID_COLUMNS]  # fmt: skip
    rows = sessions.select(*needed).mapInPandas(score, EVENT_LEVEL_SCHEMA)
    timestamp = F.expr("timestampadd(MICROSECOND, ts_us, TIMESTAMP_NTZ'1970-01-01 00:00:00')")
    # The local event-level schema: the timestamp replaces the microseconds in place.
    return rows.withColumn("timestamp", timestamp).select(*EVENT_LEVEL_COLUMNS, SESSION_LENGTH)


def _event_rows(batch: pd.DataFrame, encoded: EncodedSessions, scores: Any) -> pd.DataFrame:
    lengths = encoded.lengths
    row = np.repeat(np.arange(len(batch)), lengths)  # (E,) session index of each event
    col = np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else row  # (E,)
    probability = scores.conversion_probabilities()  # (N,)

    def flat(column: str) -> np.ndarray:
        return np.concatenate([np.asarray(v, dtype=object) for v in batch[column]])

    return pd.DataFrame(
        {
            "session_id": batch["session_id"].to_numpy(dtype=object)[row],
            "position": col.astype(np.int64) + 1,
            "event": flat("events"),
            "event_category": flat("categories"),
            "store_id": flat("stores"),
            "store_name": flat("store_names"),
            "ts_us": flat("ts").astype(np.int64),
            "attribution_raw": scores.raw[row, col].astype(np.float64),
            "attribution": scores.normalised[row, col].astype(np.float64),
            "converted": batch["converted"].to_numpy(dtype=bool)[row],
            "predicted_probability": probability[row],
            "split": batch["split"].to_numpy(dtype=object)[row],
            "session_length": lengths[row],
        }
    )
