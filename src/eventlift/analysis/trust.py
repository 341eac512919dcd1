"""Checks that say how far to trust a run's attribution: faithfulness and triangulation.

*Faithfulness* asks whether the scores describe the model: removing events in the order of their
scores must lower the conversion logit faster than removing them at random (deletion curves and
AOPC), and removing every event of a type shows its model-based effect. *Triangulation* puts the
transformer's event-type lift next to the classic multi-touch credits (first and last touch,
linear, time decay, U-shaped, Markov removal) with the rank agreement between every pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eventlift.analysis.leak_rules import find_funnel_leaks
from eventlift.analysis.leakage import summary_records
from eventlift.analysis.multitouch import CREDIT_COLUMNS, multitouch_credit, rank_agreement
from eventlift.analysis.session_end import session_end_counts, session_end_probe
from eventlift.attribution import AttributionResult
from eventlift.attribution.faithfulness import event_type_removal, faithfulness
from eventlift.config import Config
from eventlift.data.encode import EncodedSessions
from eventlift.data.funnel import FunnelRule
from eventlift.data.sessions import SessionData
from eventlift.model.transformer import EventTransformer

__all__ = ["faithfulness_scorecard", "find_leaks", "triangulation", "trust_checks"]


def faithfulness_scorecard(
    model: EventTransformer, data: EncodedSessions, scores: AttributionResult, config: Config
) -> tuple[dict, pd.DataFrame]:
    """Deletion/insertion AOPC against random orders, and the event-type removal table.

    Computed on at most ``[attribution] faithfulness_sessions`` sessions of the attribution
    split (drawn with the run's seed): each deletion curve costs a few dozen forward passes per
    session. ``scores`` are the method's scores of ``data``. Returns the report as plain data
    (with ``flagged`` when the ranking is not clearly better than random) and the removal table.
    """
    split, sample = config.attribution.split, config.attribution.faithfulness_sessions
    seed = config.train.seed
    rows = data.indices(split) if split != "all" else np.arange(len(data))
    if sample and len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=sample, replace=False))
    report = faithfulness(model, data, scores.raw, rows, seed=seed, method=scores.method)
    removal = event_type_removal(model, data, rows)
    return report.to_dict(), removal


def triangulation(
    events: pd.DataFrame, sessions: pd.DataFrame, event_table: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multi-touch credits beside the transformer's lift, and Kendall τ between every pair.

    ``events`` and ``sessions`` are the processed events and labelled sessions of the
    attribution split; ``event_table`` is the event-type attribution table.
    """
    credit = multitouch_credit(events, sessions)
    lift = event_table.set_index("event")["lift"].rename("transformer_lift")
    table = credit.merge(lift, left_on="event", right_index=True, how="left")
    table = table[["event", "transformer_lift", *CREDIT_COLUMNS, "markov_removal_effect"]]
    table = table.sort_values("transformer_lift", ascending=False, ignore_index=True)
    agreement = rank_agreement(table, ["transformer_lift", *CREDIT_COLUMNS])
    return table, agreement


def find_leaks(
    data: SessionData, sessions: pd.DataFrame, config: Config
) -> tuple[list[dict], dict]:
    """The leak rules and the session-end probe on the training split, for the run summary.

    Returns the findings as run-summary records (:func:`summary_records`) and the
    ``session_end`` entry (:func:`session_end_probe`), measured without the events found.
    """
    train_sessions = sessions[sessions["split"] == "train"]
    events = data.events[data.events["session_id"].isin(train_sessions["session_id"])]
    funnel = FunnelRule.from_config(config.sessions).events_found(events)
    findings, _ = find_funnel_leaks(events, train_sessions, config.train.seed)
    named = {finding.event for finding in findings}
    counts = session_end_counts(events, train_sessions, named)
    return summary_records(findings, set(funnel)), session_end_probe(*counts, named)


def trust_checks(
    model: EventTransformer,
    encoded: EncodedSessions,
    data: SessionData,
    sessions: pd.DataFrame,
    scores: AttributionResult,
    tables: dict[str, pd.DataFrame],
    config: Config,
) -> dict[str, Any]:
    """Faithfulness scorecard and multi-touch triangulation of one run.

    Returns the summary entries (``triangulation``, ``completeness_gap``, ``faithfulness``) and,
    under ``"tables"``, the tables they come with (``triangulation``, ``rank_agreement``,
    ``event_type_removal``).
    """
    split = config.attribution.split
    chosen = sessions if split == "all" else sessions[sessions["split"] == split]
    events = data.events[data.events["session_id"].isin(chosen["session_id"])]
    credit, agreement = triangulation(events, chosen, tables["event_type"])
    checks: dict[str, Any] = {
        "tables": {
            "triangulation": credit,
            "rank_agreement": agreement.rename_axis("method").reset_index(),
        },
        "triangulation": {"kendall_tau": agreement.to_dict()},
        "completeness_gap": scores.completeness_gap,
    }
    if config.attribution.faithfulness_sessions:
        report, removal = faithfulness_scorecard(model, encoded, scores, config)
        checks["faithfulness"] = report
        checks["tables"]["event_type_removal"] = removal
    return checks
