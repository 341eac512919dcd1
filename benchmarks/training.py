"""Training speed on the reference shape: a plain eager loop next to eventlift's trainer.

    python benchmarks/training.py [--sessions 8192] [--epochs 3] [--seed 0]

The reference shape: the default model (d_model 64, 2 layers, 4 heads, feed-forward 128), batch
256, sessions padded to 64 with lengths uniform in 4..64 (mean ≈ 34 real events). Rows:

- ``plain loop``: what a user writes first — shuffled fixed-width batches padded to 64, every
  block computed in full, dropout 0.1 (the usual default), AdamW;
- ``eventlift``: :func:`eventlift.model.trainer.train`'s batching (length buckets trimmed to their
  longest session) and the default model (the last block computes ``[CLS]`` only, dropout 0).

Each row gives sessions per second (median of ``--epochs`` epochs after one warm-up epoch) and the
*useful* FLOP/s: matrix-multiply FLOPs of the real (unpadded) events of a full model, forward and
backward, divided by the time — the same numerator for both rows — as a share of the float32
matmul peak measured in the same run. Inference rows compare float32 with ``[model] precision =
"bfloat16"`` (autocast) and ``"auto"`` (bfloat16 only where a probe finds it faster) on the
same weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch
from torch import nn

from eventlift.config import ModelConfig
from eventlift.data.encode import FEATURES, EncodedSessions
from eventlift.model.batching import iterate_batches, make_batch
from eventlift.model.trainer import predict_logits
from eventlift.model.transformer import EventTransformer

WIDTH, BATCH = 64, 256
VOCAB = {"event": 40, "category": 8, "store": 300, "gap": 16}


def reference_sessions(n: int, seed: int) -> EncodedSessions:
    """Random ids with lengths uniform in 4..64, right-padded to 64; labels carry no signal."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, WIDTH + 1, n).astype(np.int64)
    padding = np.arange(WIDTH)[None, :] >= lengths[:, None]
    inputs = {}
    for name in FEATURES:
        ids = rng.integers(1, VOCAB[name], (n, WIDTH)).astype(np.int32)
        ids[padding] = 0
        inputs[name] = ids
    labels = (rng.random(n) < 0.3).astype(np.float32)
    ids = np.arange(n).astype(str).astype(object)
    return EncodedSessions(inputs, lengths, labels, np.zeros(n, np.int8), ids)


def useful_flops(lengths: np.ndarray, config: ModelConfig) -> float:
    """Matmul FLOPs of one training step (forward + 2× backward) over the real events + [CLS]."""
    tokens = lengths + 1
    d, f = config.d_model, config.d_ff
    per_token = 2 * (3 * d * d + d * d + 2 * d * f)  # projections and feed-forward
    attention = 2 * 2 * tokens.astype(np.float64) ** 2 * d  # scores and mixing, all heads
    forward = config.n_layers * (per_token * tokens.sum() + attention.sum())
    return 3.0 * forward


def matmul_peak(dtype: torch.dtype, size: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of a square matmul on this machine (median of ``repeats``)."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times)


def plain_batches(data: EncodedSessions, rng: np.random.Generator):
    """Shuffled fixed-width batches, every session padded to 64."""
    order = rng.permutation(len(data))
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        batch = {
            name: torch.from_numpy(data.inputs[name][rows].astype(np.int64)) for name in FEATURES
        }
        lengths = torch.from_numpy(data.lengths[rows])
        batch["keep"] = torch.arange(WIDTH)[None, :] < lengths[:, None]
        batch["label"] = torch.from_numpy(data.labels[rows])
        yield batch


def full_logits(model: EventTransformer, batch: dict) -> torch.Tensor:
    """Every block computed for every position (the attention-map path, not the [CLS] shortcut)."""
    logits, _ = model.logits_from_embeddings(model.embed(batch), batch["keep"], need_weights=True)
    return logits


def epoch_seconds(model, batches, forward, epochs: int) -> float:
    """Median seconds of ``epochs`` training epochs after one warm-up epoch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    times = []
    for epoch in range(epochs + 1):
        started = time.perf_counter()
        for batch in batches():
            loss = loss_fn(forward(model, batch), batch["label"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if epoch:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = reference_sessions(args.sessions, args.seed)
    config = ModelConfig()
    sizes = {name: VOCAB[name] for name in ("event", "category", "store")}
    peak32, peak16 = matmul_peak(torch.float32), matmul_peak(torch.bfloat16)
    flops = useful_flops(data.lengths, config)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{args.sessions:,} sessions, mean length {data.lengths.mean():.1f}, "
        f"padded to {WIDTH}, batch {BATCH}; matmul peak "
        f"float32 {peak32 / 1e9:.0f} GFLOP/s, bfloat16 {peak16 / 1e9:.0f} GFLOP/s"
    )
    print(f"{'row':<34}{'sessions/s':>12}{'useful GFLOP/s':>16}{'of fp32 peak':>14}")

    def row(name: str, seconds: float, work: float | None) -> None:
        rate = f"{work / seconds / 1e9:>16.1f}{work / seconds / peak32:>14.0%}" if work else ""
        print(f"{name:<34}{args.sessions / seconds:>12,.0f}{rate}")

    torch.manual_seed(args.seed)
    plain = EventTransformer(dataclasses.replace(config, dropout=0.1), sizes, WIDTH)
    rng = np.random.default_rng(args.seed)
    row(
        "plain loop (train)",
        epoch_seconds(plain, lambda: plain_batches(data, rng), full_logits, args.epochs),
        flops,
    )

    torch.manual_seed(args.seed)
    model = EventTransformer(config, sizes, WIDTH)
    rows = np.arange(len(data))

    def bucketed():
        for batch_rows in iterate_batches(data.lengths, rows, BATCH, rng=rng):
            yield make_batch(data, batch_rows, torch.device("cpu"))

    row("eventlift (train)", epoch_seconds(model, bucketed, lambda m, b: m(b), args.epochs), flops)
    for precision in ("float32", "bfloat16", "auto"):
        scorer = EventTransformer(dataclasses.replace(config, precision=precision), sizes, WIDTH)
        scorer.load_state_dict(model.state_dict())
        scorer.eval()
        predict_logits(scorer, data, rows, batch_size=BATCH)  # warm-up
        times = []
        for _ in range(args.epochs):
            started = time.perf_counter()
            predict_logits(scorer, data, rows, batch_size=BATCH)
            times.append(time.perf_counter() - started)
        row(f"eventlift predict ({precision})", statistics.median(times), None)


if __name__ == "__main__":
    main()
