"""Length-bucketed batches: sessions of similar length go together, so little padding is computed.

Sorting by length is the largest single speed-up for short sessions (a batch is trimmed to its
longest session). Training shuffles within equal lengths and shuffles the order of the batches,
so every epoch still sees a different sequence of batches.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from eventlift.data.encode import FEATURES, EncodedSessions
from eventlift.exceptions import ConfigError

__all__ = ["iterate_batches", "make_batch", "select_device"]


def select_device(name: str = "auto") -> torch.device:
    """``"auto"`` takes CUDA when present, else the CPU; a named CUDA or MPS device must exist.

    Raises
    ------
    ConfigError
        The named device is not on this machine (checked before any training).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ConfigError(
                f"[train] device = {name!r}, but torch sees {count} CUDA device(s) here. Fix: "
                f'set device = "auto" (CUDA when present, else the CPU) or "cpu".'
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f'[train] device = {name!r}, but MPS is not available here. Fix: set device = "auto".'
        )
    return device


def iterate_batches(
    lengths: np.ndarray,
    indices: np.ndarray,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
) -> Iterator[np.ndarray]:
    """Yield arrays of row indices, grouped by length; shuffled when ``rng`` is given."""
    if rng is None:
        order = indices[np.argsort(lengths[indices], kind="stable")]
    else:
        noise = rng.random(len(indices))
        order = indices[np.lexsort((noise, lengths[indices]))]
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    yield from batches


def make_batch(data: EncodedSessions, rows: np.ndarray, device: torch.device) -> dict[str, Tensor]:
    """Tensors for ``rows``, trimmed to the longest session among them.

    Returns the id matrices (B, T) as int64, ``keep`` (B, T) True on real events, and
    ``label`` (B,).
    """
    width = int(data.lengths[rows].max())
    batch = {
        name: torch.from_numpy(data.inputs[name][rows, :width].astype(np.int64)).to(device)
        for name in FEATURES
    }
    positions = torch.arange(width, device=device)
    lengths = torch.from_numpy(data.lengths[rows]).to(device)
    batch["keep"] = positions[None, :] < lengths[:, None]
    batch["label"] = torch.from_numpy(data.labels[rows]).to(device)
    return batch
