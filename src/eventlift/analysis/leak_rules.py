"""Funnel steps as real logs hold them: late before the purchase, or carrying the label alone.

The presence probe (:mod:`eventlift.analysis.leakage`) names events whose presence alone gives
the label away, which a real funnel rarely does: carts are abandoned, so a cart step sits in
most converted sessions *and* in many others, at a presence AUC near 0.75-0.90. Two more rules
look at how a funnel step behaves rather than how often it occurs:

- **late**: in converted sessions a funnel step comes just before the purchase. An event is
  flagged when at least ``LATE_SHARE`` of the converted sessions holding it hold it among their
  last ``LATE_EVENTS`` events, ``LATE_RATIO`` times the share of a typical event. Steps of a
  chain (item added, cart viewed, checkout started) are peeled off one round at a time: once the
  last steps are flagged they are set aside and the events before them are looked at again, so a
  chain of any length is found, not only its last step.
- **gain**: a step written anywhere in the session because the visitor is about to buy (a cart
  add shown on every product page) is not late, but it carries the label on top of everything
  else. A quick bag-of-events logistic regression is fitted on the training split with and
  without each candidate (cross-fitted, two folds); an event whose removal costs ``GAIN`` AUC or
  more is flagged. Leaving one out, rather than adding one to a base model, measures what the
  event adds beyond the others, which is what separates a leak from a driver: on the
  leak-scenario test bed (:mod:`eventlift.data.leak_scenarios`) single inflating steps lost
  0.11-0.15 and genuine drivers at most 0.10 (``benchmarks/leaks.py``).

Both rules need only the event sequences of a sample of training sessions, so the Spark path
collects one (:class:`ProbeSample`) and calls the functions the local path calls.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from eventlift.analysis.leakage import (
    LeakFinding,
    describe_finding,
    flag_leaks,
    percent,
    score_events,
)

__all__ = [
    "SAMPLE_PER_CLASS",
    "ProbeSample",
    "bag_of_events",
    "find_funnel_leaks",
    "gain_steps",
    "late_steps",
    "name_leaks",
]

LATE_EVENTS = 3  # "the last few events before the purchase"
LATE_SHARE = 0.8
LATE_RATIO = 1.25
LATE_ROUNDS = 4  # chains of up to this many peeled rounds
CANDIDATE_AUC = 0.6  # presence AUC an event needs before either rule looks at it
MIN_SESSIONS = 20  # converted sessions holding an event, for the late rule
GAIN = 0.10
MAX_CANDIDATES = 15  # the gain rule refits the bag once per candidate
SAMPLE_PER_CLASS = 20_000  # training sessions of each outcome the rules look at
TAIL = 20  # events kept from the end of each converted session (late rule, peeled rounds)
_FOLDS = 2


@dataclass(frozen=True)
class ProbeSample:
    """Training sessions as token sequences, at most ``SAMPLE_PER_CLASS`` of each outcome.

    ``sequences`` holds one array of event tokens per session in position order;
    ``converted`` ``(S,)`` their labels.
    """

    sequences: list[np.ndarray]
    converted: np.ndarray

    @classmethod
    def from_events(cls, events: pd.DataFrame, sessions: pd.DataFrame, seed: int) -> ProbeSample:
        """The sample of the given ``sessions`` (``session_id``, ``converted``), drawn with
        ``seed``; ``events`` (``session_id``, ``event``, ordered by session then position)."""
        chosen = _draw(sessions, seed)
        kept = events[events["session_id"].isin(chosen["session_id"])]
        groups = kept.groupby("session_id", sort=False, observed=True)["event"]
        by_session = {key: group.astype(str).to_numpy() for key, group in groups}
        empty = np.array([], dtype=object)
        sequences = [by_session.get(key, empty) for key in chosen["session_id"]]
        return cls(sequences, chosen["converted"].to_numpy(dtype=bool))


def _draw(sessions: pd.DataFrame, seed: int) -> pd.DataFrame:
    """At most ``SAMPLE_PER_CLASS`` sessions of each outcome, in the frame's order."""
    rng = np.random.default_rng(seed)
    labels = sessions["converted"].to_numpy(dtype=bool)
    keep = np.zeros(len(sessions), dtype=bool)
    for outcome in (True, False):
        rows = np.flatnonzero(labels == outcome)
        if len(rows) > SAMPLE_PER_CLASS:
            rows = rng.choice(rows, size=SAMPLE_PER_CLASS, replace=False)
        keep[rows] = True
    return sessions.loc[keep, ["session_id", "converted"]]


def find_funnel_leaks(
    events: pd.DataFrame, sessions: pd.DataFrame, seed: int
) -> tuple[list[LeakFinding], pd.DataFrame]:
    """Every rule on the given sessions (the caller passes the training split).

    ``events`` holds ``session_id`` and ``event`` in position order; ``sessions``
    ``session_id`` and ``converted``. Returns the findings, sorted by presence AUC, and the
    presence table of :func:`~eventlift.analysis.leakage.single_event_aucs`.
    """
    table, labels = score_events(events, sessions)
    n_positive = int(labels.sum())
    sample = ProbeSample.from_events(events, sessions, seed)
    findings = name_leaks(table, n_positive, len(labels) - n_positive, sample, seed)
    return findings, table


def name_leaks(
    table: pd.DataFrame, n_positive: int, n_negative: int, sample: ProbeSample, seed: int
) -> list[LeakFinding]:
    """The findings of the presence, late and gain rules together, one per event.

    ``table`` is a presence table (:func:`~eventlift.analysis.leakage.presence_aucs`) counted
    over ``n_positive`` converted and ``n_negative`` other sessions, ``sample`` a
    :class:`ProbeSample` of the same sessions. An event named by several rules gets one finding
    with each rule's evidence.
    """
    presence = {finding.event: finding for finding in flag_leaks(table, n_positive, n_negative)}
    if not (n_positive and n_negative):
        return []
    late, gain = late_steps(table, sample), gain_steps(table, sample, seed)
    findings = []
    for row in table.itertuples(index=False):
        rules = tuple(
            rule
            for rule, named in (("presence", presence), ("late", late), ("gain", gain))
            if row.event in named
        )
        if not rules:
            continue
        evidence = []
        if row.event in late:
            evidence.append(late[row.event].sentence())
        if row.event in gain:
            evidence.append(gain[row.event].sentence())
        if "presence" in rules:
            base = presence[row.event]
            findings.append(
                dataclasses.replace(base, reason="; ".join([base.reason, *evidence]), rules=rules)
            )
        else:
            only_other = bool(row.n_converted == 0)
            findings.append(
                describe_finding(row, n_positive, n_negative, only_other, evidence, rules)
            )
    return findings


@dataclass(frozen=True)
class LateEvidence:
    """Why the late rule named an event: the share of converted sessions holding it that hold
    it among their last events, a typical event's share, and the peeling round (1: the last
    steps themselves)."""

    late_share: float
    typical_share: float
    round: int

    def sentence(self) -> str:
        """The evidence in plain words, for the finding's reason."""
        text = (
            f"{percent(self.late_share)} of the converted sessions holding it hold it among "
            f"their last {LATE_EVENTS} events before the purchase (a typical event: "
            f"{percent(self.typical_share)})"
        )
        if self.round > 1:
            text += ", once the later funnel steps named here are set aside"
        return text


def late_steps(presence: pd.DataFrame, sample: ProbeSample) -> dict[str, LateEvidence]:
    """Events concentrated among the last events of converted sessions (module docstring).

    ``presence`` is the table of :func:`~eventlift.analysis.leakage.presence_aucs` over the
    training split; only its events at ``CANDIDATE_AUC`` or more can be named.
    """
    candidates = set(presence.loc[presence["auc"] >= CANDIDATE_AUC, "event"])
    converted = np.flatnonzero(sample.converted)
    tails = [sample.sequences[row][-TAIL:] for row in converted]
    found: dict[str, LateEvidence] = {}
    for round_number in range(1, LATE_ROUNDS + 1):
        held, late = _late_counts(tails)
        if not held:
            break
        typical = sum(late.values()) / sum(held.values())
        new = {
            event: LateEvidence(late[event] / held[event], typical, round_number)
            for event in sorted(candidates & held.keys())
            if held[event] >= MIN_SESSIONS
            and late[event] >= LATE_SHARE * held[event]
            and late[event] >= LATE_RATIO * typical * held[event]
        }
        if not new:
            break
        found.update(new)
        candidates -= new.keys()
        tails = [tail[~np.isin(tail, list(new))] for tail in tails]
    return found


def _late_counts(tails: list[np.ndarray]) -> tuple[dict[str, int], dict[str, int]]:
    """Per event: sessions holding it in their tail, and those holding it among the last few."""
    held: dict[str, int] = {}
    late: dict[str, int] = {}
    for tail in tails:
        for event in set(tail.tolist()):
            held[event] = held.get(event, 0) + 1
        for event in set(tail[-LATE_EVENTS:].tolist()):
            late[event] = late.get(event, 0) + 1
    return held, {event: late.get(event, 0) for event in held}


@dataclass(frozen=True)
class GainEvidence:
    """Why the gain rule named an event: the bag's AUC with every event and without this one."""

    auc_with: float
    auc_without: float

    @property
    def gain(self) -> float:
        return self.auc_with - self.auc_without

    def sentence(self) -> str:
        """The evidence in plain words, for the finding's reason."""
        return (
            f"a quick bag-of-events model on the training split loses {self.gain:.2f} AUC "
            f"without it ({self.auc_with:.2f} with every event, {self.auc_without:.2f} without)"
        )


def gain_steps(presence: pd.DataFrame, sample: ProbeSample, seed: int) -> dict[str, GainEvidence]:
    """Events whose removal costs a quick bag-of-events model ``GAIN`` AUC or more.

    The candidates are the ``MAX_CANDIDATES`` events of highest presence AUC at
    ``CANDIDATE_AUC`` or more; the bag holds log counts of every event of the sample.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    labels = sample.converted
    if labels.all() or not labels.any() or min(labels.sum(), (~labels).sum()) < _FOLDS:
        return {}
    matrix, columns = bag_of_events(sample.sequences)
    chosen = presence.loc[presence["auc"] >= CANDIDATE_AUC, "event"].head(MAX_CANDIDATES)
    candidates = [event for event in chosen if event in columns]
    if not candidates:
        return {}
    folds = _folds(labels, seed)

    def cross_fitted_auc(kept: np.ndarray) -> float:
        features = matrix[:, kept]
        scores = np.zeros(len(labels))
        for fold in range(_FOLDS):
            train, test = folds != fold, folds == fold
            model = LogisticRegression(C=1.0, max_iter=300)
            model.fit(features[train], labels[train])
            scores[test] = model.decision_function(features[test])
        return float(roc_auc_score(labels, scores))

    everything = np.ones(matrix.shape[1], dtype=bool)
    auc_with = cross_fitted_auc(everything)
    found = {}
    for event in candidates:
        without = everything.copy()
        without[columns[event]] = False
        evidence = GainEvidence(auc_with, cross_fitted_auc(without))
        if evidence.gain >= GAIN:
            found[event] = evidence
    return found


def bag_of_events(sequences: list[np.ndarray]) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """``log1p`` counts ``(S, V)`` of every event of the sample, and each event's column."""
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int64)
    flat = np.concatenate(sequences) if len(sequences) else np.array([], dtype=object)
    codes, names = pd.factorize(pd.Series(flat, dtype=object))
    rows = np.repeat(np.arange(len(sequences)), lengths)
    counts = sparse.csr_matrix(
        (np.ones(len(codes)), (rows, codes)), shape=(len(sequences), len(names))
    )
    counts.sum_duplicates()
    counts.data = np.log1p(counts.data)
    return counts, {str(name): column for column, name in enumerate(names)}


def _folds(labels: np.ndarray, seed: int) -> np.ndarray:
    """A fold per session, stratified by outcome, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=np.int64)
    for outcome in (True, False):
        rows = np.flatnonzero(labels == outcome)
        folds[rng.permutation(rows)] = np.arange(len(rows)) % _FOLDS
    return folds
