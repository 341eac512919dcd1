"""Training with early stopping on validation ROC AUC, and prediction (DESIGN §4).

The trainer talks to the model through ``model(batch, per_member=True)`` (each member's logits) and
its ``members``; it keeps a copy of each member's best check's weights and restores them at the
end, so the returned model is the one the metrics describe.

One loop serves every way of training: alone in this process, or as one rank of several that
train one model together (the Spark path's ``TorchDistributor``), described by a
:class:`TrainingGroup`. Every rank builds the batches one process would build from all ranks'
training sessions and trains on its own sessions of each; its mean loss is weighted by its share
of the batch, so the average of the ranks' gradients is the whole batch's gradient. Counts and
validation logits are shared, so every rank takes the same early-stopping decision, and several
ranks follow the trajectory of one process up to float rounding.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from eventlift.config import TrainConfig
from eventlift.core.memory import release_freed_memory
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.encode import EncodedSessions
from eventlift.model.batching import iterate_batches, make_batch
from eventlift.model.transformer import EventTransformer

__all__ = [
    "ONE_PROCESS",
    "TrainResult",
    "TrainingGroup",
    "classification_metrics",
    "predict_logits",
    "seed_everything",
    "train",
]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What training did: the best epoch (1-based), its validation AUC, and per-check history."""

    best_epoch: int
    best_val_auc: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    sessions_per_second: float = 0.0


class TrainingGroup:
    """The processes that train one model together; this class is one process on its own.

    A distributed subclass sets ``rank`` and ``world`` and overrides :meth:`wrap` and
    :meth:`gather`. Every rank calls them at the same points of :func:`train`, so the
    collectives line up. Each rank holds one contiguous share of the sessions, in the order one
    process would hold all of them (rank 0 first), and at least one session.
    """

    rank: int = 0
    world: int = 1

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module whose forward pass trains (one whose backward pass averages gradients)."""
        return model

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order."""
        return [value]


ONE_PROCESS = TrainingGroup()


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
    model: EventTransformer,
    data: EncodedSessions,
    rows: np.ndarray,
    *,
    batch_size: int = 1024,
    device: torch.device | None = None,
    per_member: bool = False,
) -> np.ndarray:
    """Conversion logits for ``rows`` (same order), computed in eval mode: (N,) of the members'
    mean, or (members, N) with ``per_member``."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = np.empty((len(model.members), len(rows)), dtype=np.float32)
    order = np.argsort(data.lengths[rows], kind="stable")
    for start in range(0, len(rows), batch_size):
        chunk = order[start : start + batch_size]
        batch = make_batch(data, rows[chunk], device)
        with model.autocast():
            out[:, chunk] = model(batch, per_member=True).float().cpu().numpy()
    model.train(was_training)
    return out if per_member else out.mean(axis=0)


def train(
    model: EventTransformer,
    data: EncodedSessions,
    config: TrainConfig,
    *,
    device: torch.device | None = None,
    progress: Progress = NO_PROGRESS,
    group: TrainingGroup = ONE_PROCESS,
) -> TrainResult:
    """Fit ``model`` on the training split; stop when validation AUC stops improving.

    Validation AUC is checked at the end of every epoch and, on large data, every
    ``config.validate_every`` training sessions within an epoch (an epoch is cut into equal
    parts), so early stopping reacts within an epoch of 700,000 sessions instead of after it;
    ``patience`` counts checks. The checks score at most ``config.validation_sessions`` validation
    sessions (a seeded sample). Each member of the model keeps the weights of its own best check,
    as if trained alone, and training stops once every member has gone ``patience`` checks
    without improving. With a distributed ``group``, ``data`` is this rank's share and every
    count, the sample and the AUC are those of all ranks' sessions together. Returns the
    :class:`TrainResult` (its validation AUC is the members' mean logit's, with each member's
    best weights); the model holds those weights afterwards.
    """
    device = device or next(model.parameters()).device
    rng = np.random.default_rng(config.seed)
    train_rows = data.indices("train")
    val_rows = _validation_sample(data.indices("validation"), config, group)
    pos_weight = None
    if config.pos_weight is not None:
        pos_weight = torch.tensor(config.pos_weight, device=device)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay_rate
    )
    wrapped = group.wrap(model)
    best = _BestChecks(model.members)
    result = TrainResult(best_epoch=0, best_val_auc=-math.inf)
    started = time.perf_counter()
    parts = _parts_per_epoch(sum(group.gather(len(train_rows))), config.validate_every)
    sessions_seen = 0
    for epoch, part, batches in _epoch_parts(data, train_rows, config, parts, rng, group):
        check_start = time.perf_counter()
        label = f"epoch {epoch}/{config.epochs}" + (f", part {part}/{parts}" if parts > 1 else "")
        with progress.task(label, len(batches)) as advance:
            loss, n = _fit(model, wrapped, batches, loss_fn, optimizer, data, device, advance)
        shares = group.gather((loss, n))
        total_loss, n_sessions = sum(s[0] for s in shares), sum(s[1] for s in shares)
        sessions_seen += n_sessions
        release_freed_memory()  # batches of many shapes leave the heap fragmented
        val_auc, member_aucs = _validation_aucs(model, data, val_rows, device, group)
        seconds = time.perf_counter() - check_start
        entry = {
            "epoch": epoch,
            "part": part,
            "sessions_seen": sessions_seen,
            "train_loss": total_loss / max(n_sessions, 1),
            "val_auc": val_auc,
            "seconds": seconds,
        }
        if len(member_aucs) > 1:
            entry["member_val_auc"] = member_aucs
        result.history.append(entry)
        progress.note(f"{label}: validation AUC {val_auc:.4f} ({seconds:.1f}s)")
        log.info("%s: validation AUC %.4f (%.1fs)", label, val_auc, seconds)
        if best.update(member_aucs, epoch, len(result.history)) >= config.patience:
            break
    best.restore()
    model.eval()
    result.best_epoch = best.last_epoch()
    result.best_val_auc = (
        _validation_aucs(model, data, val_rows, device, group)[0]
        if len(model.members) > 1
        else best.aucs[0]
    )
    result.seconds = time.perf_counter() - started
    result.sessions_per_second = sessions_seen / max(result.seconds, 1e-9)
    return result


class _BestChecks:
    """Each member's best validation check so far: its AUC, its check, epoch and weights."""

    def __init__(self, members: nn.ModuleList) -> None:
        self.members = members
        self.aucs = [-math.inf] * len(members)
        self.checks = [0] * len(members)
        self.epochs = [0] * len(members)
        self.states = [copy.deepcopy(member.state_dict()) for member in members]

    def update(self, aucs: list[float], epoch: int, check: int) -> int:
        """Keep the members that improved (or whose first check this is); returns the fewest
        checks any member has gone without improving."""
        for index, (member, auc) in enumerate(zip(self.members, aucs, strict=True)):
            if auc > self.aucs[index] or self.checks[index] == 0:
                self.aucs[index], self.checks[index], self.epochs[index] = auc, check, epoch
                self.states[index] = copy.deepcopy(member.state_dict())
        return min(check - best_check for best_check in self.checks)

    def restore(self) -> None:
        """Load every member's best weights."""
        for member, state in zip(self.members, self.states, strict=True):
            member.load_state_dict(state)

    def last_epoch(self) -> int:
        """The latest epoch whose weights a member keeps."""
        return max(self.epochs)


def _fit(
    model: nn.Module,
    wrapped: nn.Module,
    batches: list[tuple[np.ndarray, float]],
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: EncodedSessions,
    device: torch.device,
    advance: Any,
) -> tuple[float, int]:
    """One optimiser step per batch (``wrapped`` runs the pass, ``model`` sets its precision);
    returns the loss summed over the sessions, and how many sessions there were.

    A rank holding none of a batch's sessions still takes the step, on its first session with
    weight 0, so that every rank joins every gradient average.
    """
    wrapped.train()
    total_loss, n_sessions = 0.0, 0
    for rows, weight in batches:
        batch = make_batch(data, rows if len(rows) else np.arange(1), device)
        with model.autocast(backward=True):
            logits = wrapped(batch, per_member=True)  # (members, B)
        # each member on its own mean loss (their parameters are disjoint): the mean over
        # members times their number, so every member steps as it would alone
        loss = loss_fn(logits.float(), batch["label"].expand_as(logits))
        optimizer.zero_grad(set_to_none=True)
        (loss * (weight * len(logits))).backward()
        optimizer.step()
        total_loss += float(loss.detach()) * len(rows)
        n_sessions += len(rows)
        advance(1)
    return total_loss, n_sessions


def _validation_aucs(
    model: EventTransformer,
    data: EncodedSessions,
    rows: np.ndarray,
    device: torch.device,
    group: TrainingGroup,
) -> tuple[float, list[float]]:
    """ROC AUC of the members' mean logit and of each member over the validation sample of
    every rank (each rank gets the same numbers)."""
    shares = group.gather(
        (data.labels[rows], predict_logits(model, data, rows, device=device, per_member=True))
    )
    labels = np.concatenate([labels for labels, _ in shares])
    logits = np.concatenate([member_logits for _, member_logits in shares], axis=1)  # (M, N)
    members = [classification_metrics(labels, row)["auc"] for row in logits]
    if len(logits) == 1:
        return members[0], members
    return classification_metrics(labels, logits.mean(axis=0))["auc"], members


def _epoch_parts(
    data: EncodedSessions,
    train_rows: np.ndarray,
    config: TrainConfig,
    parts: int,
    rng: np.random.Generator,
    group: TrainingGroup,
) -> Iterator[tuple[int, int, list[tuple[np.ndarray, float]]]]:
    """``(epoch, part, batches)`` for every stretch of training between two validation checks;
    each epoch's batches are shuffled when its first part is asked for.

    A batch is this rank's rows of a batch of all ranks' training rows, with the weight of their
    mean loss: its share of the batch times the number of ranks (1 for one process).
    """
    shares = group.gather(data.lengths[train_rows])
    offset = sum(len(share) for share in shares[: group.rank])
    lengths = np.concatenate(shares)  # (N,) of all ranks' training rows, in rank order
    everyone = np.arange(len(lengths))
    for epoch in range(1, config.epochs + 1):
        batches = [
            _own_rows(rows, offset, train_rows, group.world)
            for rows in iterate_batches(lengths, everyone, config.batch_size, rng=rng)
        ]
        per_part = max(1, math.ceil(len(batches) / parts))
        for part, first in enumerate(range(0, len(batches), per_part), start=1):
            yield epoch, part, batches[first : first + per_part]


def _own_rows(
    rows: np.ndarray, offset: int, train_rows: np.ndarray, world: int
) -> tuple[np.ndarray, float]:
    """The rows of ``rows`` (positions among all ranks' training rows) this rank holds, and
    ``world`` times their share of the batch: DDP's average of the ranks' weighted mean losses'
    gradients is then the gradient of the batch's mean loss."""
    mine = rows[(rows >= offset) & (rows < offset + len(train_rows))]
    return train_rows[mine - offset], world * len(mine) / len(rows)


def _parts_per_epoch(n_train: int, validate_every: int) -> int:
    """How many validation checks one epoch holds: 1, or enough for one per ``validate_every``."""
    return max(1, math.ceil(n_train / validate_every)) if validate_every else 1


def _validation_sample(
    rows: np.ndarray, config: TrainConfig, group: TrainingGroup = ONE_PROCESS
) -> np.ndarray:
    """At most ``config.validation_sessions`` validation rows, a seeded sample in row order.

    The sample draws from its own generator, so capping it never changes training's shuffles.
    It is drawn over all ranks' rows in rank order, and each rank keeps the rows it holds.
    """
    counts = group.gather(len(rows))
    total, offset = sum(counts), sum(counts[: group.rank])
    limit = config.validation_sessions
    if not limit or total <= limit:
        return rows
    chosen = np.sort(np.random.default_rng([config.seed, 1]).choice(total, limit, replace=False))
    mine = chosen[(chosen >= offset) & (chosen < offset + len(rows))]
    return rows[mine - offset]
