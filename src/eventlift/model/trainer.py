"""Training with early stopping on validation ROC AUC, and prediction (DESIGN §4).

The trainer only talks to the model through ``model(batch)``; it keeps a copy of the best epoch's
weights and restores them at the end, so the returned model is the one the metrics describe.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from eventlift.config import TrainConfig
from eventlift.core.memory import release_freed_memory
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.encode import EncodedSessions
from eventlift.model.batching import iterate_batches, make_batch

__all__ = ["TrainResult", "classification_metrics", "predict_logits", "seed_everything", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What training did: the best epoch (1-based), its validation AUC, and per-epoch history."""

    best_epoch: int
    best_val_auc: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    sessions_per_second: float = 0.0


def seed_everything(seed: int) -> None:
    """Seed torch's generators (NumPy generators are created from the seed where used)."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def classification_metrics(labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision) and log loss; NaN where one class is missing."""
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    labels = np.asarray(labels, dtype=np.float64)
    probabilities = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    if len(labels) == 0 or labels.min() == labels.max():
        return {"auc": math.nan, "pr_auc": math.nan, "log_loss": math.nan}
    return {
        "auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "log_loss": float(log_loss(labels, np.clip(probabilities, 1e-7, 1 - 1e-7))),
    }


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    data: EncodedSessions,
    rows: np.ndarray,
    *,
    batch_size: int = 1024,
    device: torch.device | None = None,
) -> np.ndarray:
    """Conversion logits for ``rows`` (same order), computed in eval mode."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = np.empty(len(rows), dtype=np.float32)
    order = np.argsort(data.lengths[rows], kind="stable")
    for start in range(0, len(rows), batch_size):
        chunk = order[start : start + batch_size]
        batch = make_batch(data, rows[chunk], device)
        with model.autocast():
            out[chunk] = model(batch).float().cpu().numpy()
    model.train(was_training)
    return out


def train(
    model: nn.Module,
    data: EncodedSessions,
    config: TrainConfig,
    *,
    device: torch.device | None = None,
    progress: Progress = NO_PROGRESS,
) -> TrainResult:
    """Fit ``model`` on the training split; stop when validation AUC stops improving.

    Validation AUC is checked at the end of every epoch and, on large data, every
    ``config.validate_every`` training sessions within an epoch (an epoch is cut into equal
    parts), so early stopping reacts within an epoch of 700,000 sessions instead of after it;
    ``patience`` counts checks. The checks score at most ``config.validation_sessions`` validation
    sessions (a seeded sample). Returns the :class:`TrainResult`; the model holds the best
    check's weights afterwards.
    """
    device = device or next(model.parameters()).device
    rng = np.random.default_rng(config.seed)
    train_rows = data.indices("train")
    val_rows = _validation_sample(data.indices("validation"), config)
    pos_weight = None
    if config.pos_weight is not None:
        pos_weight = torch.tensor(config.pos_weight, device=device)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    result = TrainResult(best_epoch=0, best_val_auc=-math.inf)
    best_state = copy.deepcopy(model.state_dict())
    started = time.perf_counter()
    parts = _parts_per_epoch(len(train_rows), config.validate_every)
    sessions_seen = best_check = 0
    for epoch, part, batches in _epoch_parts(data, train_rows, config, parts, rng):
        check_start = time.perf_counter()
        label = f"epoch {epoch}/{config.epochs}" + (f", part {part}/{parts}" if parts > 1 else "")
        model.train()
        total_loss, n_sessions = 0.0, 0
        with progress.task(label, len(batches)) as advance:
            for rows in batches:
                batch = make_batch(data, rows, device)
                with model.autocast(backward=True):
                    logits = model(batch)
                loss = loss_fn(logits.float(), batch["label"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach()) * len(rows)
                n_sessions += len(rows)
                advance(1)
        sessions_seen += n_sessions
        release_freed_memory()  # batches of many shapes leave the heap fragmented
        val_auc = classification_metrics(
            data.labels[val_rows], predict_logits(model, data, val_rows, device=device)
        )["auc"]
        seconds = time.perf_counter() - check_start
        result.history.append(
            {
                "epoch": epoch,
                "part": part,
                "sessions_seen": sessions_seen,
                "train_loss": total_loss / max(n_sessions, 1),
                "val_auc": val_auc,
                "seconds": seconds,
            }
        )
        progress.note(f"{label}: validation AUC {val_auc:.4f} ({seconds:.1f}s)")
        log.info("%s: validation AUC %.4f (%.1fs)", label, val_auc, seconds)
        check = len(result.history)
        if val_auc > result.best_val_auc or result.best_epoch == 0:
            result.best_epoch, result.best_val_auc, best_check = epoch, val_auc, check
            best_state = copy.deepcopy(model.state_dict())
        elif check - best_check >= config.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - started
    result.sessions_per_second = sessions_seen / max(result.seconds, 1e-9)
    return result


def _epoch_parts(
    data: EncodedSessions,
    train_rows: np.ndarray,
    config: TrainConfig,
    parts: int,
    rng: np.random.Generator,
) -> Iterator[tuple[int, int, list[np.ndarray]]]:
    """``(epoch, part, batches)`` for every stretch of training between two validation checks;
    each epoch's batches are shuffled when its first part is asked for."""
    for epoch in range(1, config.epochs + 1):
        batches = list(iterate_batches(data.lengths, train_rows, config.batch_size, rng=rng))
        per_part = max(1, math.ceil(len(batches) / parts))
        for part, first in enumerate(range(0, len(batches), per_part), start=1):
            yield epoch, part, batches[first : first + per_part]


def _parts_per_epoch(n_train: int, validate_every: int) -> int:
    """How many validation checks one epoch holds: 1, or enough for one per ``validate_every``."""
    return max(1, math.ceil(n_train / validate_every)) if validate_every else 1


def _validation_sample(rows: np.ndarray, config: TrainConfig) -> np.ndarray:
    """At most ``config.validation_sessions`` validation rows, a seeded sample in row order.

    The sample draws from its own generator, so capping it never changes training's shuffles.
    """
    limit = config.validation_sessions
    if not limit or len(rows) <= limit:
        return rows
    chosen = np.random.default_rng([config.seed, 1]).choice(len(rows), limit, replace=False)
    return rows[np.sort(chosen)]
