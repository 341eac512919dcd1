"""Checkpoints that load without unpickling: safetensors weights plus a JSON of everything else.

The JSON holds the model and session configuration, the vocabularies and training facts, so a
checkpoint alone is enough to encode new sessions and score them, and the SHA-256 of the weights
file, checked on load: a checkpoint that is missing, malformed, truncated, mismatched or altered
is a :class:`~eventlift.exceptions.CheckpointError` naming the file and what is wrong, never a
library's traceback.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from eventlift.config import ModelConfig
from eventlift.core.atomic import atomic_path, write_json
from eventlift.data.vocab import Vocabulary
from eventlift.exceptions import CheckpointError
from eventlift.model.transformer import EventTransformer

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

FORMAT_VERSION = 2  # 2: the weights of each member under "members.<i>."; 1: one model, unprefixed


@dataclass
class Checkpoint:
    """A loaded model with the vocabularies and settings it was trained with."""

    model: EventTransformer
    vocabularies: dict[str, Vocabulary]
    max_len: int
    metadata: dict[str, Any]


def save_checkpoint(
    stem: str | Path,
    model: EventTransformer,
    vocabularies: dict[str, Vocabulary],
    metadata: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; returns both paths."""
    stem = Path(stem)
    weights_path, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    with atomic_path(weights_path) as temporary:
        save_file(tensors, str(temporary))
    write_json(
        {
            "format_version": FORMAT_VERSION,
            "weights_sha256": _sha256(weights_path),
            "model_config": asdict(model.config),
            "max_len": model.max_len,
            "vocabularies": {name: vocab.tokens for name, vocab in vocabularies.items()},
            "metadata": metadata or {},
        },
        meta_path,
    )
    return weights_path, meta_path


def load_checkpoint(stem: str | Path, device: str = "cpu") -> Checkpoint:
    """Rebuild the model from ``<stem>.json`` and load ``<stem>.safetensors`` (no pickle).

    Raises
    ------
    CheckpointError
        Either file is missing or unreadable, the JSON is malformed or lacks a field, the
        weights do not match the recorded SHA-256, or they do not fit the recorded model.
    """
    stem = Path(stem)
    weights_path, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for path in (weights_path, meta_path):
        if not path.is_file():
            raise CheckpointError(
                f"checkpoint file {str(path)!r} is missing; a checkpoint is a pair "
                f"<name>.safetensors + <name>.json written by eventlift."
            )
    meta = _read_meta(meta_path)
    expected = meta.get("weights_sha256")
    if expected is not None and expected != _sha256(weights_path):
        raise CheckpointError(
            f"{weights_path}: the weights do not match the SHA-256 recorded in {meta_path.name}; "
            f"the file was altered or belongs to another checkpoint. Fix: use the pair as the "
            f"run wrote it, or rerun."
        )
    try:
        vocabularies = {
            name: Vocabulary(list(tokens)) for name, tokens in meta["vocabularies"].items()
        }
        model = EventTransformer(
            ModelConfig(**meta["model_config"]),
            {name: len(vocab) for name, vocab in vocabularies.items()},
            int(meta["max_len"]),
        )
        metadata = dict(meta.get("metadata") or {})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(
            f"{meta_path}: the checkpoint description is incomplete or malformed "
            f"({type(error).__name__}: {error}). Fix: use the JSON the run wrote beside the "
            f"weights."
        ) from None
    try:
        weights = load_file(str(weights_path), device=device)
    except Exception as error:  # safetensors raises its own error types for a damaged file
        raise CheckpointError(
            f"{weights_path}: the weights file is damaged or truncated ({error})."
        ) from None
    if meta["format_version"] == 1:  # written before models had members: member 0
        weights = {f"members.0.{name}": tensor for name, tensor in weights.items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(
            f"{weights_path}: the weights do not fit the model described in {meta_path.name} "
            f"({first})."
        ) from None
    model.to(device).eval()
    return Checkpoint(model, vocabularies, int(meta["max_len"]), metadata)


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint description ({error}).") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the checkpoint description is not a JSON object.")
    version = meta.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise CheckpointError(
            f"{path}: checkpoint format {version!r} is not supported "
            f"(expected 1 or {FORMAT_VERSION})."
        )
    return meta


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
