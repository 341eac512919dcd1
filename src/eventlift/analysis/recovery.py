"""How well the attribution tables recover causes planted in synthetic data.

Only possible on generated data, where the true effect of every event type, store and position is
known; it is how eventlift checks that its lift tables point at the real drivers, and how the
attribution methods are compared with each other and with multi-touch rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventlift.exceptions import DataError, EmptyInputError, MissingColumnError, format_rows

if TYPE_CHECKING:
    from eventlift.data.synthetic import GroundTruth

__all__ = [
    "CLEAR_EFFECT",
    "contribution_correlation",
    "event_spearman",
    "recovery_scores",
    "sign_agreement",
]

STORE_TOP_K = 5
# Planted event effects at least this large (log-odds) count as clearly non-zero for the sign check.
CLEAR_EFFECT = 0.1
CORRELATION_COLUMNS = ("session_id", "position", "event", "attribution_raw", "split")


def event_spearman(scores: Mapping[str, float] | pd.Series, truth: GroundTruth) -> float:
    """Rank correlation of per-event-type scores with the planted event effects.

    Parameters
    ----------
    scores
        One number per event type (a lift, a multi-touch credit, ...), keyed by event name.
    truth
        The planted truth of the synthetic log.

    Returns
    -------
    float
        Spearman's rho over the non-funnel, non-conversion event types that have a finite score;
        NaN when fewer than three of them do.
    """
    from scipy.stats import spearmanr

    causal = {
        event: effect
        for event, effect in truth.event_effects.items()
        if event not in truth.funnel_events and event != truth.conversion_event
    }
    values = pd.Series(scores, dtype=float)
    values = values[values.index.isin(list(causal)) & np.isfinite(values.to_numpy())]
    if len(values) < 3:
        return math.nan
    planted = values.index.map(causal).to_numpy(dtype=float)
    return float(spearmanr(values.to_numpy(), planted).statistic)


def recovery_scores(
    tables: dict[str, pd.DataFrame], truth: GroundTruth, *, store_min_events: int = 200
) -> dict[str, object]:
    """Compare the lift tables of one run with the planted truth.

    Returns ``event_spearman`` (rank correlation of event-type lift with the planted effects over
    non-funnel event types present in the table), ``best_store``, ``best_store_rank`` (1-based
    rank of the planted best store by lift among stores with enough support; None when absent),
    ``supported_stores`` (how many stores have enough support), ``store_top5_overlap`` (share of
    the five supported stores with the largest planted effects that are also among the five
    supported stores with the largest lift; fewer than five supported stores compare all of them,
    none gives NaN), ``top_position_bucket`` (bucket with the highest lift), ``top_events``, and
    the sign check of :func:`sign_agreement`: ``signs_agree`` of ``signs_checked`` event types
    with a clearly non-zero planted effect, and the ``sign_exceptions``.

    A store has enough support when it is not ``low_support`` and has at least
    ``store_min_events`` events: a lift from fewer events has a sampling error (about ±0.02 at
    200 events on the demo data) larger than the gaps between stores that it would rank.
    """
    event_table = tables["event_type"]
    lifts = pd.Series(event_table["lift"].to_numpy(dtype=float), index=event_table["event"])
    stores = tables["store"]
    enough = ~stores["low_support"].astype(bool) & (stores["n_events"] >= store_min_events)
    supported = stores[enough].sort_values("lift", ascending=False, kind="stable")
    ranked = supported["store_id"].astype(str).tolist()
    best_rank = ranked.index(truth.best_store) + 1 if truth.best_store in ranked else None
    positions = tables["position"].dropna(subset=["lift"])
    top_bucket = None
    if not positions.empty:
        top_bucket = str(positions.loc[positions["lift"].idxmax(), "position_bucket"])
    signs = sign_agreement(event_table, truth)
    return {
        "event_spearman": event_spearman(lifts, truth),
        "signs_agree": int(signs["agrees"].sum()),
        "signs_checked": len(signs),
        "sign_exceptions": signs.loc[~signs["agrees"], "event"].tolist(),
        "best_store": truth.best_store,
        "best_store_rank": best_rank,
        "supported_stores": len(ranked),
        "store_top5_overlap": _top_overlap(ranked, truth.store_effects, STORE_TOP_K),
        "top_position_bucket": top_bucket,
        "top_events": event_table.sort_values("lift", ascending=False)["event"].head(5).tolist(),
    }


def sign_agreement(
    event_table: pd.DataFrame, truth: GroundTruth, *, min_effect: float = CLEAR_EFFECT
) -> pd.DataFrame:
    """Does each event type's mean signed score push the logit the way its planted effect does?

    For every non-funnel event type of ``event_table`` whose planted effect is at least
    ``min_effect`` in size, ``agrees`` is True when the bootstrap interval of
    ``attr_signed_mean`` excludes zero on the side of the planted sign (an interval that is NaN,
    as with ``bootstrap = 0``, never agrees). ``mean_contribution`` is the true mean contribution
    of the type's events to the log-odds: it adds the stores' effects, the order bonus and the
    per-event cost to the planted effect, and is what a faithful score of a perfect model would
    average, so it explains most disagreements.

    Returns
    -------
    pandas.DataFrame
        ``event, planted_effect, mean_contribution, attr_signed_mean, attr_signed_ci_low,
        attr_signed_ci_high, agrees``, by planted effect.
    """
    missing = [
        column
        for column in ("event", "attr_signed_mean", "attr_signed_ci_low", "attr_signed_ci_high")
        if column not in event_table.columns
    ]
    if missing:
        raise MissingColumnError(
            f"sign_agreement: the event-type table lacks column(s) {missing}; pass the "
            "event_type table of a run (RunResult.tables['event_type'])."
        )
    funnel = {*truth.funnel_events, truth.conversion_event}
    clear = {
        event: effect
        for event, effect in truth.event_effects.items()
        if event not in funnel and abs(effect) >= min_effect
    }
    table = event_table.loc[
        event_table["event"].isin(list(clear)),
        ["event", "attr_signed_mean", "attr_signed_ci_low", "attr_signed_ci_high"],
    ].copy()
    table.insert(1, "planted_effect", table["event"].map(clear).astype(float))
    means = truth.contributions.groupby("event")["contribution"].mean()
    table.insert(2, "mean_contribution", table["event"].map(means).astype(float))
    positive = table["planted_effect"] > 0
    table["agrees"] = np.where(
        positive, table["attr_signed_ci_low"] > 0, table["attr_signed_ci_high"] < 0
    )
    return table.sort_values("planted_effect", kind="stable", ignore_index=True)


def contribution_correlation(
    event_level: pd.DataFrame, truth: GroundTruth, *, split: str = "test"
) -> float:
    """Mean over sessions of the Pearson correlation of signed scores with true contributions.

    Each event's ``attribution_raw`` is paired with its planted contribution to the session's
    conversion log-odds (``truth.contributions``) on ``(session_id, position)``. Meant for
    ``no_funnel`` runs only: there every event is a browsing event with a planted contribution.
    In a ``with_funnel`` run the funnel events have none and drop out of the pairing, while the
    browsing events' scores come from a model that leans on the funnel, so the figure says little.
    Truth positions count browsing events from the start of the session, so the pairing also
    needs head truncation (the default); tail truncation shifts positions, which is detected by
    the event names disagreeing.

    Parameters
    ----------
    event_level
        The event-level frame of a ``no_funnel`` run on the synthetic log (``session_id``,
        ``position``, ``event``, ``attribution_raw`` and ``split``), restricted to attributed
        sessions when only some were attributed (the others score 0 everywhere and drop out).
    truth
        The planted truth of the same synthetic log.
    split
        The split whose sessions are scored.

    Returns
    -------
    float
        The mean correlation over the sessions of ``split`` with at least three matched events
        and non-constant scores and contributions (a correlation is undefined otherwise); NaN when
        no session qualifies.

    Raises
    ------
    MissingColumnError
        ``event_level`` lacks one of the columns above.
    EmptyInputError
        No event of ``split`` matches an event of the truth.
    DataError
        A matched event has a different name in the truth: the frame is not from a ``no_funnel``
        run with head truncation on this log.
    """
    pairs = _matched_pairs(event_level, truth, split)
    score = pairs["attribution_raw"].to_numpy(dtype=float)  # (P,)
    contribution = pairs["contribution"].to_numpy(dtype=float)  # (P,)
    groups = pairs.groupby("session_id", sort=False).ngroup().to_numpy()  # (P,)
    count = np.bincount(groups).astype(float)  # (S,)
    # Centre within sessions before the products: sums of raw squares lose precision.
    x = score - (np.bincount(groups, weights=score) / count)[groups]
    y = contribution - (np.bincount(groups, weights=contribution) / count)[groups]
    sxy = np.bincount(groups, weights=x * y)  # (S,)
    sxx = np.bincount(groups, weights=x * x)
    syy = np.bincount(groups, weights=y * y)
    spread = pd.DataFrame({"score": score, "contribution": contribution}).groupby(groups)
    varies = (spread.max() > spread.min()).all(axis=1).to_numpy()  # (S,) neither is constant
    defined = (count >= 3) & varies
    if not defined.any():
        return math.nan
    return float(np.mean(sxy[defined] / np.sqrt(sxx[defined] * syy[defined])))


def _matched_pairs(event_level: pd.DataFrame, truth: GroundTruth, split: str) -> pd.DataFrame:
    """The events of ``split`` beside their planted contributions, checked to line up."""
    missing = [column for column in CORRELATION_COLUMNS if column not in event_level.columns]
    if missing:
        raise MissingColumnError(
            f"contribution_correlation: the event-level frame lacks column(s) {missing}; it needs "
            f"{list(CORRELATION_COLUMNS)} and holds {list(event_level.columns)}. Pass the "
            "event_level table of a run (RunResult.tables['event_level'])."
        )
    chosen = event_level.loc[
        event_level["split"] == split, ["session_id", "position", "event", "attribution_raw"]
    ]
    contributions = truth.contributions[["session_id", "position", "event", "contribution"]]
    pairs = chosen.merge(contributions, on=["session_id", "position"], suffixes=("", "_truth"))
    if pairs.empty:
        present = sorted(event_level["split"].dropna().astype(str).unique().tolist())
        raise EmptyInputError(
            f"contribution_correlation: no event of split {split!r} matches an event of the "
            f"planted truth (splits in the frame: {present}). Pass the event-level frame of a run "
            "on the same synthetic log and one of those splits."
        )
    differ = pairs["event"].astype(str) != pairs["event_truth"].astype(str)
    if differ.any():
        rows = pairs.loc[differ, ["session_id", "position", "event", "event_truth"]]
        raise DataError(
            f"contribution_correlation: {int(differ.sum())} event(s) differ from the planted "
            "truth at the same (session_id, position), so positions do not line up. Pass a "
            "no_funnel run with [sessions] truncate = 'head'. First ones:\n"
            + format_rows(rows.to_dict("records"))
        )
    return pairs


def _top_overlap(ranked: list[str], effects: Mapping[str, float], k: int) -> float:
    """Share of the ``k`` largest planted effects among ``ranked`` found in its first ``k``."""
    if not ranked:
        return math.nan
    k = min(k, len(ranked))
    planted = sorted(ranked, key=lambda store: (-effects.get(store, -math.inf), store))[:k]
    return len(set(planted) & set(ranked[:k])) / k
