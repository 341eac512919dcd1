"""eventlift's attribution next to Captum assembled the way a user would, in the same run.

    python benchmarks/captum_comparison.py [--sessions 30000] [--seed 0] [--gxi 4096] [--ig 512]

One model is trained (2 epochs on the demo's ``no_funnel`` data, the default architecture: d_model
64, 2 layers, 4 heads), then the same test sessions are attributed four ways, each timed as the
median of ``--repeats`` runs:

- eventlift gradient × input (``attribute_sessions``: length-bucketed batches, one backward pass);
- Captum ``InputXGradient`` on the event embeddings, fed by a plain ``DataLoader`` over the padded
  id matrices (every batch padded to ``[sessions] max_len``), the same batch size;
- eventlift integrated gradients (32 Gauss–Legendre steps, padding baseline, chunked steps);
- Captum ``IntegratedGradients`` on the embeddings with the same baseline, steps and method,
  from the same ``DataLoader``, ``internal_batch_size`` = eventlift's chunk size;
- Captum ``LayerIntegratedGradients`` on a module that sums the event embeddings (what a user
  wraps so Captum can interpolate between the padding ids and the real ids), same steps and method,
  Captum's default batching (all steps of a batch in one pass).

Both sides score the same sessions with the same weights; the table shows sessions per second,
the speed-up, and the largest absolute difference between the two score matrices (the scores must
agree to ``rtol 1e-4, atol 1e-5``: the script stops with an error otherwise).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from eventlift.attribution import GradientXInput, IntegratedGradients, attribute_sessions
from eventlift.data.encode import FEATURES, EncodedSessions
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events
from eventlift.data.synthetic import generate_events
from eventlift.model.trainer import seed_everything, train
from eventlift.model.transformer import EventTransformer
from eventlift.workflow.demo import demo_config

BATCH = 256
WIDTHS = ("<22", "<26", ">9", ">13", ">10", ">7", ">12")
STEPS = 32
CHUNK = IntegratedGradients.__init__.__kwdefaults__["internal_batch_size"]  # eventlift's default


def trained_model(sessions: int, seed: int) -> tuple[EventTransformer, EncodedSessions]:
    """The default architecture, trained for two epochs on the demo data (speed, not quality)."""
    events, _ = generate_events(seed=seed, n_sessions=sessions)
    with tempfile.TemporaryDirectory() as out:
        config = demo_config(out, seed=seed)
    _, _, encoded = prepare_sessions(read_events(events, config), config, "no_funnel")
    seed_everything(seed)
    sizes = {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
    model = EventTransformer(config.model, sizes, config.sessions.max_len)
    train(model, encoded, dataclasses.replace(config.train, epochs=2))
    return model.eval(), encoded


def eventlift_scores(attributor, data: EncodedSessions, rows: np.ndarray) -> np.ndarray:
    """eventlift's runner on ``rows``: (R, max_len) signed scores."""
    return attribute_sessions(attributor, data, rows, batch_size=BATCH).raw[rows]


def padded_loader(data: EncodedSessions, rows: np.ndarray) -> DataLoader:
    """What a user builds: the padded id matrices and the mask in a plain DataLoader."""
    tensors = [torch.from_numpy(data.inputs[name][rows].astype(np.int64)) for name in FEATURES]
    width = data.inputs["event"].shape[1]
    keep = torch.arange(width)[None, :] < torch.from_numpy(data.lengths[rows])[:, None]
    return DataLoader(TensorDataset(*tensors, keep), batch_size=BATCH, shuffle=False)


class _Embedder(torch.nn.Module):
    """The summed event vectors as a module of their own, the layer Captum attributes to."""

    def __init__(self, model: EventTransformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, *ids: torch.Tensor) -> torch.Tensor:
        return self.model.embed(dict(zip(FEATURES, ids, strict=True)))


class _IdsToLogit(torch.nn.Module):
    """The classifier called on id tensors, as ``LayerIntegratedGradients`` needs it."""

    def __init__(self, model: EventTransformer) -> None:
        super().__init__()
        self.model = model
        self.embedder = _Embedder(model)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        *ids, keep = inputs
        return self.model.logits_from_embeddings(self.embedder(*ids), keep)[0]


def captum_scores(model: EventTransformer, loader: DataLoader, method: str) -> np.ndarray:
    """Captum on the summed event embeddings, batch by batch: (N, max_len) scores."""
    from captum.attr import InputXGradient
    from captum.attr import IntegratedGradients as CaptumIG

    if method == "LayerIntegratedGradients":
        return _layer_ig_scores(model, loader)

    def forward(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return model.logits_from_embeddings(x, keep)[0]

    baseline_of = IntegratedGradients(model, steps=STEPS).baseline
    out = []
    for *ids, keep in loader:
        batch = dict(zip(FEATURES, ids, strict=True)) | {"keep": keep}
        x = model.embed(batch).detach().requires_grad_(True)
        if method == "InputXGradient":
            scores = InputXGradient(forward).attribute(x, additional_forward_args=(keep,))
        else:
            scores = CaptumIG(forward).attribute(
                x,
                baselines=baseline_of(batch).detach(),
                additional_forward_args=(keep,),
                n_steps=STEPS,
                method="gausslegendre",
                internal_batch_size=CHUNK,
            )
        out.append((scores.sum(dim=-1) * keep).detach().numpy())
    return np.concatenate(out)


def _layer_ig_scores(model: EventTransformer, loader: DataLoader) -> np.ndarray:
    """Captum ``LayerIntegratedGradients`` from the padding ids (all 0) to the real ids."""
    from captum.attr import LayerIntegratedGradients

    wrapped = _IdsToLogit(model)
    explainer = LayerIntegratedGradients(wrapped, wrapped.embedder)
    out = []
    for *ids, keep in loader:
        scores = explainer.attribute(
            tuple(ids),
            baselines=tuple(torch.zeros_like(t) for t in ids),
            additional_forward_args=(keep,),
            n_steps=STEPS,
            method="gausslegendre",
        )
        out.append((scores.sum(dim=-1) * keep).detach().numpy())
    return np.concatenate(out)


def median_seconds(
    run: Callable[..., np.ndarray], repeats: int, *args: object
) -> tuple[float, np.ndarray]:
    """Median wall time of ``repeats`` calls of ``run(*args)`` and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gxi", type=int, default=4096, help="test sessions for grad x input")
    parser.add_argument("--ig", type=int, default=512, help="test sessions for IG")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    model, encoded = trained_model(args.sessions, args.seed)
    test = encoded.indices("test")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {BATCH}, padded to "
        f"{encoded.inputs['event'].shape[1]}, mean length {encoded.lengths[test].mean():.1f}"
    )
    header = ("eventlift", "Captum", "sessions", "eventlift/s", "Captum/s", "x", "max |diff|")
    print("".join(format(h, w) for h, w in zip(header, WIDTHS, strict=True)))
    ig = IntegratedGradients(model, steps=STEPS)
    for name, captum_name, count, ours in (
        ("grad_x_input", "InputXGradient", args.gxi, GradientXInput(model)),
        ("integrated_gradients", "IntegratedGradients", args.ig, ig),
        ("integrated_gradients", "LayerIntegratedGradients", args.ig, ig),
    ):
        rows = test[:count]
        own_time, own = median_seconds(eventlift_scores, args.repeats, ours, encoded, rows)
        loader = padded_loader(encoded, rows)
        their_time, theirs = median_seconds(captum_scores, args.repeats, model, loader, captum_name)
        own = np.pad(own, ((0, 0), (0, theirs.shape[1] - own.shape[1])))
        np.testing.assert_allclose(own, theirs, rtol=1e-4, atol=1e-5)
        print(
            f"{name:<22}{captum_name:<26}{len(rows):>9,}{len(rows) / own_time:>13,.0f}"
            f"{len(rows) / their_time:>10,.0f}{their_time / own_time:>7.1f}"
            f"{np.abs(own - theirs).max():>12.1e}"
        )


if __name__ == "__main__":
    main()
