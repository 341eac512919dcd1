"""Seed stability: does the event-type ranking survive retraining with another seed?

A lift table describes one trained model. If a model trained from another initialisation and
batch order, on the same sessions and split, ranked the event types differently, the ranking says
more about the optimiser than about the data. With ``[attribution] stability_seeds = k`` the run
trains ``k - 1`` more models (seeds ``seed + 1 … seed + k - 1``; the split, vocabularies and every
other setting stay those of the run), attributes the same sessions with the same method, and
reports each seed's event-type lift with the Spearman correlation between every pair of seeds.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pandas as pd
import torch

from eventlift.analysis.scoring import score_sessions, split_rows, tabulate_scores
from eventlift.config import Config
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.encode import EncodedSessions
from eventlift.data.sessions import SessionData
from eventlift.model.trainer import classification_metrics, predict_logits, seed_everything, train
from eventlift.model.transformer import EventTransformer

__all__ = ["seed_lifts", "seed_stability"]


def seed_lifts(
    data: SessionData,
    split: pd.Series,
    encoded: EncodedSessions,
    config: Config,
    seed: int,
    *,
    device: torch.device | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[pd.Series, float]:
    """Train one model with ``seed`` and return its event-type lift and its test AUC.

    The lift is computed like the run's (same method, split, buckets and support), without the
    bootstrap: only the point estimates are compared across seeds.
    """
    seed_everything(seed)
    vocab_sizes = {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
    model = EventTransformer(config.model, vocab_sizes, config.sessions.max_len).to(device)
    train(model, encoded, dataclasses.replace(config.train, seed=seed), device=device)
    test_rows = encoded.indices("test")
    labels = encoded.labels[test_rows]
    auc = classification_metrics(labels, predict_logits(model, encoded, test_rows, device=device))
    settings = config.attribution
    rows = split_rows(split, settings.split)
    scores = score_sessions(model, encoded, settings, rows=rows, device=device, progress=progress)
    _, tables = tabulate_scores(data, split, scores, settings, seed=seed, rows=rows, bootstrap=0)
    return tables["event_type"].set_index("event")["lift"], auc["auc"]


def seed_stability(
    data: SessionData,
    split: pd.Series,
    encoded: EncodedSessions,
    config: Config,
    run_lifts: pd.Series,
    run_auc: float,
    *,
    device: torch.device | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Event-type lift under ``[attribution] stability_seeds`` seeds, and their rank agreement.

    Parameters
    ----------
    data, split, encoded
        The run's sessions, their split and their encoding.
    config
        The run's config; ``stability_seeds`` (at least 2) sets how many seeds in all.
    run_lifts, run_auc
        The run's own event-type lift (indexed by event) and test AUC, for its seed.

    Returns
    -------
    table : pandas.DataFrame
        One row per event type: ``event``, ``lift_seed_<s>`` and ``rank_seed_<s>`` per seed (rank
        1 = largest lift), ``lift_mean``, ``lift_sd`` and ``rank_range`` (largest minus smallest
        rank), in the order of the mean lift.
    summary : dict
        ``seeds``, ``test_auc`` per seed, ``spearman`` per pair (``"s1-s2"``), and its
        ``mean_spearman`` and ``min_spearman``.
    """
    first = config.train.seed
    seeds = [first + offset for offset in range(config.attribution.stability_seeds)]
    lifts = {first: run_lifts}
    aucs = {first: run_auc}
    for seed in seeds[1:]:
        progress.note(f"seed stability: training with seed {seed}")
        lifts[seed], aucs[seed] = seed_lifts(
            data, split, encoded, config, seed, device=device, progress=progress
        )
    wide = pd.DataFrame({f"lift_seed_{seed}": lifts[seed] for seed in seeds})
    ranks = wide.rank(ascending=False, method="min")
    ranks.columns = [f"rank_seed_{seed}" for seed in seeds]
    table = pd.concat([wide, ranks], axis=1)
    table["lift_mean"] = wide.mean(axis=1)
    table["lift_sd"] = wide.std(axis=1, ddof=1)
    table["rank_range"] = ranks.max(axis=1) - ranks.min(axis=1)
    table = table.sort_values("lift_mean", ascending=False).rename_axis("event").reset_index()
    pairs = {
        f"{a}-{b}": float(wide[f"lift_seed_{a}"].corr(wide[f"lift_seed_{b}"], method="spearman"))
        for a, b in itertools.combinations(seeds, 2)
    }
    values = np.array(list(pairs.values()))
    summary = {
        "seeds": seeds,
        "test_auc": {str(seed): aucs[seed] for seed in seeds},
        "spearman": pairs,
        "mean_spearman": float(np.nanmean(values)) if len(values) else None,
        "min_spearman": float(np.nanmin(values)) if len(values) else None,
    }
    return table, summary
