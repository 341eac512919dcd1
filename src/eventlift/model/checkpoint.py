"""Checkpoints that load without unpickling: safetensors weights plus a JSON of everything else.

The JSON holds the model and session configuration, the vocabularies and training facts, so a
checkpoint alone is enough to encode new sessions and score them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from eventlift.config import ModelConfig
from eventlift.core.atomic import atomic_path, write_json
from eventlift.data.vocab import Vocabulary
from eventlift.exceptions import EventliftError
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
            "model_config": asdict(model.config),
            "max_len": model.max_len,
            "vocabularies": {name: vocab.tokens for name, vocab in vocabularies.items()},
            "metadata": metadata or {},
        },
        meta_path,
    )
    return weights_path, meta_path


def load_checkpoint(stem: str | Path, device: str = "cpu") -> Checkpoint:
    """Rebuild the model from ``<stem>.json`` and load ``<stem>.safetensors`` (no pickle)."""
    stem = Path(stem)
    weights_path, meta_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for path in (weights_path, meta_path):
        if not path.is_file():
            raise EventliftError(
                f"checkpoint file {str(path)!r} is missing; a checkpoint is a pair "
                f"<name>.safetensors + <name>.json written by eventlift."
            )
    meta = json.loads(meta_path.read_text())
    version = meta.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise EventliftError(
            f"{meta_path}: checkpoint format {version!r} is not supported "
            f"(expected 1 or {FORMAT_VERSION})."
        )
    vocabularies = {name: Vocabulary(tokens) for name, tokens in meta["vocabularies"].items()}
    model = EventTransformer(
        ModelConfig(**meta["model_config"]),
        {name: len(vocab) for name, vocab in vocabularies.items()},
        meta["max_len"],
    )
    weights = load_file(str(weights_path), device=device)
    if version == 1:  # written before models had members: the one model is member 0
        weights = {f"members.0.{name}": tensor for name, tensor in weights.items()}
    model.load_state_dict(weights)
    model.to(device).eval()
    return Checkpoint(model, vocabularies, meta["max_len"], meta["metadata"])
