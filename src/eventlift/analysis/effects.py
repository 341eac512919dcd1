"""Signed model effects: what the predicted conversions lose when a group's events are removed.

The attribution lift says where the model *looks*; its rows sum to zero by construction. The
signed effect says what a group *does* in the model: over the sessions that hold the group's
events (an event type, or the events at a bucket of positions), the mean calibrated conversion
probability with every event minus the same with the group's events masked out (the other
events keep their positions). Positive for a driver, negative for a blocker, in percentage
points (``effect_pp``) and in expected conversions over those sessions (``effect_conversions``).

``effect_ci_low``/``effect_ci_high`` are a 95 % percentile bootstrap over sessions (the same
resampling unit as the lift intervals), and ``q_value`` the Benjamini-Hochberg adjusted p-value
of each row within its table, from the normal approximation to the mean over sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventlift.analysis.bootstrap import SessionBootstrap
from eventlift.attribution.removal import masked_group_logits
from eventlift.config import Config
from eventlift.data.encode import EncodedSessions
from eventlift.data.sessions import SessionData
from eventlift.model.calibration import Calibrator
from eventlift.model.transformer import EventTransformer

__all__ = [
    "EFFECT_COLUMNS",
    "RemovalDeltas",
    "add_effects",
    "effect_table",
    "removal_deltas",
    "shrink",
    "table_effects",
]

EFFECT_COLUMNS = ("effect_pp", "effect_ci_low", "effect_ci_high", "effect_conversions", "q_value")


@dataclass(frozen=True)
class RemovalDeltas:
    """One entry per (session, group) pair where the session holds the group: ``session``
    (0..S-1, the place among the scored rows), ``group`` and ``delta`` (calibrated probability
    with every event minus without the group's), each ``(P,)``; ``n_sessions`` is ``S``."""

    session: np.ndarray
    group: np.ndarray
    delta: np.ndarray
    n_sessions: int


def removal_deltas(
    model: EventTransformer,
    data: EncodedSessions,
    rows: np.ndarray,
    groups: np.ndarray,
    calibrator: Calibrator,
    *,
    batch_size: int = 512,
) -> RemovalDeltas:
    """The calibrated probability each session of ``rows`` loses without each group it holds.

    ``groups`` ``(len(rows), L)`` gives each event's group id (``-1`` for none), as for
    :func:`~eventlift.attribution.removal.masked_group_logits`.
    """
    pairs = masked_group_logits(model, data, rows, groups, batch_size=batch_size)
    delta = calibrator.probabilities(pairs.full) - calibrator.probabilities(pairs.masked)
    return RemovalDeltas(pairs.session, pairs.group, delta, pairs.n_sessions)


def effect_table(
    deltas: RemovalDeltas,
    keys: Sequence[object],
    converted: np.ndarray,
    *,
    bootstrap: int,
    seed: int,
) -> pd.DataFrame:
    """The :data:`EFFECT_COLUMNS` of every group, indexed by ``keys`` (group id -> key), and
    ``_effect_se``, the standard error of ``effect_pp`` that shrinkage weighs by.

    ``converted`` ``(S,)`` labels the scored sessions; the bootstrap resamples them as the lift
    intervals do. Groups no session holds get NaN.
    """
    from scipy import sparse
    from scipy.stats import false_discovery_control, norm

    n_groups, n_sessions = len(keys), deltas.n_sessions
    counts = np.bincount(deltas.group, minlength=n_groups).astype(np.float64)
    sums = np.bincount(deltas.group, weights=deltas.delta, minlength=n_groups)
    squares = np.bincount(deltas.group, weights=deltas.delta**2, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
        variance = np.maximum(squares / counts - mean**2, 0.0) * counts / np.maximum(counts - 1, 1)
        z = np.abs(mean) / np.sqrt(variance / counts)
    p_value = np.where(np.isfinite(z), 2.0 * norm.sf(z), np.where(counts > 0, 1.0, np.nan))
    p_value = np.where((counts > 0) & (variance == 0) & (mean != 0), 0.0, p_value)
    q_value = np.full(n_groups, np.nan)
    tested = np.isfinite(p_value)
    if tested.any():
        q_value[tested] = false_discovery_control(p_value[tested], method="bh")
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    if bootstrap and len(deltas.delta):
        boot = SessionBootstrap(np.arange(n_sessions), converted, bootstrap, seed)
        shape = (n_sessions, n_groups)
        by_delta = sparse.csr_matrix((deltas.delta, (deltas.session, deltas.group)), shape=shape)
        by_count = sparse.csr_matrix(
            (np.ones(len(deltas.delta)), (deltas.session, deltas.group)), shape=shape
        )
        drawn = []
        for weights in boot.weight_blocks():  # (b, S)
            with np.errstate(invalid="ignore", divide="ignore"):
                drawn.append((by_delta.T @ weights.T).T / (by_count.T @ weights.T).T)
        values = np.vstack(drawn)  # (B, G)
        finite = np.isfinite(values).sum(axis=0) * 2 >= bootstrap
        if finite.any():
            bounds = np.nanpercentile(values[:, finite], [2.5, 97.5], axis=0)
            low[finite], high[finite] = 100.0 * bounds[0], 100.0 * bounds[1]
    return pd.DataFrame(
        {
            "effect_pp": 100.0 * mean,
            "effect_ci_low": low,
            "effect_ci_high": high,
            "effect_conversions": np.where(counts > 0, sums, np.nan),
            "q_value": q_value,
            "_effect_se": 100.0 * np.sqrt(variance / counts),
        },
        index=pd.Index(list(keys)),
    )


def shrink(estimates: np.ndarray, standard_errors: np.ndarray) -> np.ndarray:
    """Empirical-Bayes estimates: each value pulled toward the precision-weighted mean by
    ``τ² / (τ² + se²)``, with the spread ``τ²`` of the true values estimated by the method of
    moments (the variance of the estimates less their mean squared standard error).

    A value seen in few sessions (a large ``se``) moves most; NaN stays NaN. With nothing to
    estimate ``τ²`` from (fewer than three finite values) the estimates are returned as they are.
    """
    values, se = np.asarray(estimates, dtype=np.float64), np.asarray(standard_errors, float)
    usable = np.isfinite(values) & np.isfinite(se) & (se > 0)
    if usable.sum() < 3:
        return values.copy()
    weights = 1.0 / se[usable] ** 2
    centre = float(np.sum(weights * values[usable]) / weights.sum())
    spread = max(float(np.var(values[usable], ddof=1) - np.mean(se[usable] ** 2)), 0.0)
    shrunk = values.copy()
    factor = spread / (spread + se[usable] ** 2)
    shrunk[usable] = centre + factor * (values[usable] - centre)
    return shrunk


def table_effects(
    model: EventTransformer,
    encoded: EncodedSessions,
    events: pd.DataFrame,
    rows: np.ndarray,
    calibrator: Calibrator,
    *,
    position_buckets: Sequence[int],
    bucket_labels: Sequence[str],
    bootstrap: int,
    seed: int,
    min_support: int = 0,
    batch_size: int = 512,
) -> dict[str, pd.DataFrame]:
    """The effects of the event-type, position and store tables over the sessions ``rows``.

    ``events`` are the processed events of every session (``event`` and ``store_id`` in position
    order, sessions in the order of ``encoded``), so an event type or a store is the value the
    tables list, even where the model shares one ``<unk>`` embedding among rare values. Returns
    frames of :data:`EFFECT_COLUMNS` (and a private ``_effect_se``) indexed by event token, by
    bucket label and, when events carry stores, by store id (stores with fewer than
    ``min_support`` events among the scored sessions are left out: NaN).
    """
    rows = np.asarray(rows, dtype=np.int64)
    lengths = encoded.lengths.astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    width = encoded.inputs["event"].shape[1]
    tokens = events["event"].astype("category")  # categorical already in a run: no copy
    per_event = tokens.cat.codes.to_numpy(dtype=np.int64)
    chosen = lengths[rows]
    session = np.repeat(np.arange(len(rows)), chosen)  # (E',) place of each chosen event
    position = np.arange(chosen.sum()) - np.repeat(np.cumsum(chosen) - chosen, chosen)
    source = np.repeat(offsets[rows], chosen) + position  # rows of ``events``

    def grouped(codes: np.ndarray) -> np.ndarray:
        matrix = np.full((len(rows), width), -1, dtype=np.int32)
        matrix[session, position] = codes[source]
        return matrix

    by_event = grouped(per_event)
    edges = np.asarray(position_buckets)
    by_bucket = np.full((len(rows), width), -1, dtype=np.int32)
    by_bucket[session, position] = np.searchsorted(edges, position + 1, side="right") - 1
    converted = encoded.labels[rows].astype(bool)
    found = {}
    groupings = [
        ("event_type", by_event, [str(token) for token in tokens.cat.categories]),
        ("position", by_bucket, list(bucket_labels)),
    ]
    stores = events["store_id"].astype("category")
    if stores.notna().any():  # codes are -1 where an event has no store
        codes = stores.cat.codes.to_numpy(dtype=np.int64)
        by_store = grouped(codes)
        # stores with fewer than min_support scored events get no effect (NaN): their rows are
        # flagged low support anyway, and on logs of many stores they would be most of the cost
        held = by_store[by_store >= 0]
        rare = np.bincount(held, minlength=len(stores.cat.categories)) < min_support
        by_store[(by_store >= 0) & rare[np.maximum(by_store, 0)]] = -1
        groupings.append(("store", by_store, [str(s) for s in stores.cat.categories]))
    for name, groups, keys in groupings:
        deltas = removal_deltas(model, encoded, rows, groups, calibrator, batch_size=batch_size)
        found[name] = effect_table(deltas, keys, converted, bootstrap=bootstrap, seed=seed)
    return found


def add_effects(
    tables: dict[str, pd.DataFrame],
    model: EventTransformer,
    encoded: EncodedSessions,
    data: SessionData,
    split: pd.Series,
    calibrator: Calibrator,
    config: Config,
) -> None:
    """Append :data:`EFFECT_COLUMNS` to the event-type and position tables, in place.

    Scored on the sessions of ``[attribution] split``, at most ``effect_sessions`` of them
    (a seeded sample; 0: all).
    """
    from eventlift.analysis.scoring import split_rows
    from eventlift.analysis.tables import position_bucket_labels

    settings = config.attribution
    rows = split_rows(split, settings.split)
    rows = np.arange(len(split)) if rows is None else rows
    if settings.effect_sessions and len(rows) > settings.effect_sessions:
        rng = np.random.default_rng(config.train.seed)
        rows = np.sort(rng.choice(rows, size=settings.effect_sessions, replace=False))
    found = table_effects(
        model,
        encoded,
        data.events,
        rows,
        calibrator,
        position_buckets=settings.position_buckets,
        bucket_labels=position_bucket_labels(settings.position_buckets),
        bootstrap=settings.bootstrap,
        seed=config.train.seed,
        min_support=settings.min_support,
        batch_size=settings.batch_size,
    )
    keys = (("event_type", "event"), ("position", "position_bucket"), ("store", "store_id"))
    for name, key in keys:
        if name not in tables or name not in found:
            continue
        table = tables[name].reset_index(drop=True)
        effects = found[name].reindex(table[key].astype(str).to_numpy()).reset_index(drop=True)
        if name == "store":  # many stores, most seen a few times: shrink toward the mean
            effects["effect_shrunk"] = shrink(effects["effect_pp"], effects["_effect_se"])
            lift_se = (table["lift_ci_high"] - table["lift_ci_low"]) / (2 * 1.959964)
            effects["lift_shrunk"] = shrink(table["lift"].to_numpy(), lift_se.to_numpy())
        tables[name] = pd.concat([table, effects.drop(columns="_effect_se")], axis=1)
