"""The cut at conversion: how much a session's length and its last event alone predict.

Converted sessions are cut just before the purchase; the others run to their natural end (an
exit, more browsing). Length and the last events then carry the label by construction, whatever
the events mean, and a model that sees positions and the end of the sequence can learn the cut
rather than the behaviour. This probe states, on the training split, the AUC of session length
alone and of the last event alone (each last event scored by its smoothed conversion rate), after
setting aside the events the other leak rules named, so a named funnel step is not counted twice.

Both AUCs come from counts (sessions per length, or per last event, by outcome), so the Spark
path aggregates the counts and calls :func:`session_end_probe` as the local path does.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

__all__ = [
    "LAST_EVENT_AUC",
    "SHORTER_AUC",
    "grouped_auc",
    "session_end_counts",
    "session_end_probe",
]

# Stated always; flagged when converted sessions are the shorter ones with a length AUC of at
# least SHORTER_AUC, or when the last event alone reaches LAST_EVENT_AUC. Direction matters: on
# the leak-scenario test bed (48 logs, ``benchmarks/leaks.py``) every log without a planted cut
# had converted sessions *longer* (length AUC 0.50-0.62, more browsing before a purchase), and
# every log whose non-converted sessions browse on had them shorter (0.56-0.66; an exit event
# alone barely moves length, and the leak rules name it); the demo's generator gave 0.52-0.59
# "shorter" over eight variants and a sample of a public e-commerce log 0.98 "longer". Last-event
# AUCs
# were 0.53-0.61 everywhere once the named events were set aside.
SHORTER_AUC = 0.60
LAST_EVENT_AUC = 0.70
_PRIOR_SESSIONS = 20  # a last event seen in few sessions is pulled toward the base rate


def grouped_auc(values: np.ndarray, n_converted: np.ndarray, n_other: np.ndarray) -> float:
    """The AUC of a score given as distinct values with sessions per outcome: the chance that a
    converted session scores above another, ties counting one half (the Mann-Whitney statistic),
    so it equals the AUC of the per-session scores; NaN without both outcomes."""
    order = np.argsort(values, kind="stable")
    values, positive = np.asarray(values)[order], np.asarray(n_converted, dtype=float)[order]
    negative = np.asarray(n_other, dtype=float)[order]
    frame = pd.DataFrame({"value": values, "pos": positive, "neg": negative})
    grouped = frame.groupby("value", sort=True)[["pos", "neg"]].sum()
    pos, neg = grouped["pos"].to_numpy(), grouped["neg"].to_numpy()
    if not pos.sum() or not neg.sum():
        return float("nan")
    below = np.cumsum(neg) - neg  # negatives with a lower score than each group
    return float((pos * (below + neg / 2.0)).sum() / (pos.sum() * neg.sum()))


def session_end_counts(
    events: pd.DataFrame, sessions: pd.DataFrame, excluded: Collection[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions per length and per last event, by outcome, without the ``excluded`` events.

    ``events`` (``session_id``, ``event``, in position order) and ``sessions`` (``session_id``,
    ``converted``) are the training split. Returns two frames with columns ``value``,
    ``n_converted``, ``n_other``: lengths as integers, last events as tokens (``""`` for a
    session left without events).
    """
    kept = events[~events["event"].isin(list(excluded))]
    ids = kept["session_id"].astype(str)
    lengths = ids.value_counts()
    last = kept["event"].astype(str).groupby(ids.to_numpy(), sort=False).last()
    frame = pd.DataFrame(
        {"converted": sessions["converted"].to_numpy(dtype=bool)},
        index=sessions["session_id"].astype(str).to_numpy(),
    )
    frame["length"] = lengths.reindex(frame.index).fillna(0).astype(np.int64).to_numpy()
    frame["last"] = last.reindex(frame.index).fillna("").to_numpy()
    return _by_outcome(frame, "length"), _by_outcome(frame, "last")


def _by_outcome(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    table = pd.crosstab(frame[column], frame["converted"]).reindex(columns=[True, False])
    table = table.fillna(0).astype(np.int64)
    return pd.DataFrame(
        {
            "value": table.index.to_numpy(),
            "n_converted": table[True].to_numpy(),
            "n_other": table[False].to_numpy(),
        }
    )


def session_end_probe(
    length_counts: pd.DataFrame, last_counts: pd.DataFrame, excluded: Collection[str]
) -> dict:
    """The run summary's ``session_end`` entry from the counts of :func:`session_end_counts`.

    Keys: ``length_auc``, ``last_event_auc`` (rounded to 3 places), ``converted_shorter``,
    ``flagged`` (converted sessions shorter at ``SHORTER_AUC`` or more, or the last event at
    ``LAST_EVENT_AUC`` or more), ``set_aside`` (the excluded events), ``reason`` and, when
    flagged, ``fix``.
    """
    longer_auc = grouped_auc(
        length_counts["value"].to_numpy(dtype=float),
        length_counts["n_converted"].to_numpy(),
        length_counts["n_other"].to_numpy(),
    )  # above 0.5: converted sessions are the longer ones
    length_auc = max(longer_auc, 1.0 - longer_auc)
    converted, other = last_counts["n_converted"].to_numpy(), last_counts["n_other"].to_numpy()
    base = converted.sum() / max(converted.sum() + other.sum(), 1)
    rates = (converted + _PRIOR_SESSIONS * base) / (converted + other + _PRIOR_SESSIONS)
    last_auc = grouped_auc(rates, converted, other)  # in-sample rates: at least 0.5
    entry = {
        "length_auc": round(length_auc, 3),
        "converted_shorter": bool(longer_auc < 0.5),
        "last_event_auc": round(last_auc, 3),
        "flagged": bool(
            (longer_auc < 0.5 and length_auc >= SHORTER_AUC) or last_auc >= LAST_EVENT_AUC
        ),
        "set_aside": sorted(excluded),
    }
    aside = " once the events named above are set aside" if excluded else ""
    entry["reason"] = (
        f"on the training split, session length alone gives AUC {length_auc:.2f} (converted "
        f"sessions {'shorter' if longer_auc < 0.5 else 'longer'}) and the last event alone "
        f"{last_auc:.2f}{aside}"
    )
    if entry["flagged"]:
        strongest = "the last event" if last_auc >= LAST_EVENT_AUC else "session length"
        entry["reason"] += (
            f"; {strongest} carries the label: converted sessions stop just before the purchase "
            f"while the others run to their natural end, and the model can learn that cut (where "
            f"longer browsing itself lowers the odds, length is behaviour too: compare the two "
            f"runs)"
        )
        entry["fix"] = (
            'set [sessions] window = "matched" (non-converted sessions cut where converted ones '
            'are) or "prefix" (every session cut to its first events)'
        )
    return entry
