"""Sessions ready to train on: settled columns, a sample, labelled sessions, a split, tensors.

The data steps in the order a run takes them (mirrored by :mod:`eventlift.spark.prepare` on
Spark): a left-out session id is settled against the events read, a reproducible sample of
sessions is kept when asked, sessions are built and labelled (:mod:`eventlift.data.sessions`),
split (:mod:`eventlift.data.split`) and encoded (:mod:`eventlift.data.encode`).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from eventlift.config import Config
from eventlift.core.progress import Progress
from eventlift.data.encode import EncodedSessions, build_vocabularies, encode_sessions
from eventlift.data.readers import read_report
from eventlift.data.sample import sample_sessions
from eventlift.data.schema import SPLITS
from eventlift.data.sessions import (
    SessionData,
    build_sessions,
    resolve_columns,
    session_derivation,
)
from eventlift.data.split import assign_splits
from eventlift.exceptions import ConfigError

__all__ = ["prepare_sessions", "settle_and_announce", "settle_columns"]


def settle_columns(config: Config, events: pd.DataFrame) -> Config:
    """``config`` with a left-out ``[columns] session_id`` settled against the read events.

    Settled once, the value (a column name, or ``""`` for sessions derived from ``user_id``) is
    what sampling, the split by user, the summary and the checkpoints all see
    (:func:`eventlift.data.sessions.resolve_columns`).
    """
    columns = resolve_columns(config.columns, events)
    return config if columns is config.columns else dataclasses.replace(config, columns=columns)


def settle_and_announce(config: Config, events: pd.DataFrame, progress: Progress) -> Config:
    """:func:`settle_columns`, telling the user when sessions are derived by inactivity."""
    for note in read_report(events).notes:
        progress.note(f"input: {note}")
    config = settle_columns(config, events)
    derivation = session_derivation(config.columns, config.sessions)
    if derivation is not None:
        progress.note(f"sessions: {derivation['why']}")
    return config


def prepare_sessions(
    events: pd.DataFrame, config: Config, mode: str, *, source: str = "input"
) -> tuple[SessionData, pd.Series, EncodedSessions]:
    """Sessions, their split and their encoding for one mode.

    With ``[input] max_sessions`` only a reproducible sample of sessions is kept (whole users when
    sessions are derived); the units left out are counted as ``dropped_sessions.not_sampled``.
    """
    config = settle_columns(config, events)
    read = read_report(events)  # before sampling: lines the reader skipped belong to the input
    not_sampled = 0
    if config.input.max_sessions:
        derived = not config.columns.session_id or config.sessions.derive_sessions
        events, not_sampled = sample_sessions(
            events,
            config.input.max_sessions,
            config.train.seed,
            key="user_id" if derived else "session_id",
        )
    data = build_sessions(
        events, config.sessions, config.columns, mode=mode, source=source, seed=config.train.seed
    )
    # a malformed line is a row of the input too: rows_read = events + every dropped row
    data.counts["dropped_rows"]["malformed_lines"] = read.malformed_lines
    data.counts["rows_read"] += read.malformed_lines
    if read.malformed_line_numbers:
        data.counts["malformed_line_numbers"] = list(read.malformed_line_numbers)
    if config.input.max_sessions:
        data.counts["dropped_sessions"]["not_sampled"] = not_sampled
    split = assign_splits(
        data.sessions,
        fractions=config.train.split_fractions,
        seed=config.train.seed,
        method=config.train.split,
        by_user=bool(config.columns.user_id),
    )
    for name in SPLITS:
        labels = data.sessions.loc[split.to_numpy() == name, "converted"]
        if labels.nunique() < 2:
            raise ConfigError(
                f"{source}: the {name} split holds {len(labels)} sessions and not both converted "
                f"and non-converted ones, so the model cannot be trained or evaluated. Fix: use "
                f"more sessions, or change [train] split_fractions / split."
            )
    vocabularies = build_vocabularies(data, split, config.train.min_count)
    encoded = encode_sessions(
        data,
        split,
        vocabularies,
        max_len=config.sessions.max_len,
        gap_buckets=config.model.gap_buckets,
    )
    return data, split, encoded
