"""The session rules in Spark: labelled, ordered, truncated, split and encoded sessions.

:func:`prepare_sessions` flags and counts the rows with :mod:`eventlift.spark.flags`, then groups
the kept rows into sessions, splits them as :func:`eventlift.data.split.assign_splits` does,
builds the vocabularies and encodes, as :mod:`eventlift.data.encode` does. Nothing but small
results (counts, vocabularies, a few error rows) reaches the driver. The split hash is the local
:func:`~eventlift.data.split.hash_unit_interval`, applied with ``mapInPandas`` over sessions, and
encoding applies the local :class:`~eventlift.data.vocab.Vocabulary` with the vocabularies
broadcast, so both paths give the same values by construction.

The result keeps one row per session with its events as arrays (``SESSION_SCHEMA``): the model's
inputs and everything the event-level output needs, without a join back to the events.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from eventlift.config import Config
from eventlift.data.encode import gap_bucket
from eventlift.data.schema import SPLITS
from eventlift.data.sessions import session_derivation
from eventlift.data.split import hash_unit_interval
from eventlift.data.vocab import Vocabulary
from eventlift.exceptions import ConfigError, EmptyInputError, LabelError
from eventlift.spark.canonical import MALFORMED, TS_US
from eventlift.spark.flags import check_conversions, count_rows, flag_rows

__all__ = ["ID_COLUMNS", "SESSION_SCHEMA", "SparkSessions", "event_rows", "prepare_sessions"]

ID_COLUMNS = ("event_ids", "category_ids", "store_ids", "gap_ids")
SESSION_SCHEMA = (
    "session_id string, user_id string, converted boolean, n_events long, start_us long, "
    "split string, events array<string>, categories array<string>, stores array<string>, "
    "store_names array<string>, ts array<long>, gaps array<double>"
)
SESSION_COLUMNS = tuple(field.split()[0] for field in SESSION_SCHEMA.split(", "))
ENCODED_SCHEMA = SESSION_SCHEMA + ", " + ", ".join(f"{c} array<int>" for c in ID_COLUMNS)
_EVENT_ARRAYS = {
    "event": "events",
    "event_category": "categories",
    "store_id": "stores",
    "store_name": "store_names",
}
_VOCAB_ARRAYS = {"event": "events", "category": "categories", "store": "stores"}


@dataclass
class SparkSessions:
    """Encoded sessions as a Spark DataFrame (``ENCODED_SCHEMA``), with the run's bookkeeping.

    ``sessions`` is persisted and already computed; unpersist it when done with it.
    ``counts`` are those of the local :class:`~eventlift.data.sessions.SessionData`;
    ``split_counts`` gives sessions and converted sessions per split, as the run summary's
    ``counts.sessions_by_split``. ``config`` is the run's configuration with a left-out
    ``[columns] session_id`` settled against the input, as the local run settles it.
    """

    sessions: Any  # pyspark DataFrame, one row per session
    vocabularies: dict[str, Vocabulary]
    counts: dict = field(default_factory=dict)
    split_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    config: Config | None = None


def prepare_sessions(
    events: Any, config: Config, mode: str, *, source: str = "input"
) -> SparkSessions:
    """Canonical Spark events (see :mod:`eventlift.spark.canonical`) to encoded sessions.

    Raises the same errors as the local path: :class:`LabelError` (no conversion, unknown
    conversion event, every session converting), :class:`EmptyInputError` (nothing left) and
    :class:`ConfigError` (a split without both labels).
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # every step below reads the events: parse the input once (unless the caller cached them)
    cached = None if events.is_cached else events.persist(StorageLevel.MEMORY_AND_DISK)
    flagged = sessions = None
    try:
        config, kept, malformed = _settled(events, config)
        check_conversions(kept, config, source)
        flagged = flag_rows(kept, config, mode).persist(StorageLevel.MEMORY_AND_DISK)
        counts = count_rows(flagged, mode, config.sessions.window)
        counts["dropped_rows"]["malformed_lines"] = malformed.get("lines", 0)
        counts["rows_read"] += counts["dropped_rows"]["malformed_lines"]
        if malformed.get("numbers"):
            counts["malformed_line_numbers"] = list(malformed["numbers"])
        derivation = session_derivation(config.columns, config.sessions)
        if derivation is not None:
            counts["sessions_derived"] = derivation
        if counts["events"] == 0:
            raise EmptyInputError(
                f"{source}: no events are left after labelling and exclusion "
                f"(dropped rows by reason: {counts['dropped_rows']})."
            )
        if counts["converted_sessions"] == counts["sessions"]:
            raise LabelError(
                f"{source}: every one of the {counts['sessions']} sessions converts, so there is "
                f"nothing to contrast conversions with. Fix: include sessions without a "
                f"conversion in the export, or check [sessions] conversion_events."
            )
        counts["conversion_rate"] = counts["converted_sessions"] / counts["sessions"]
        by_user = bool(config.columns.user_id) and counts.pop("_no_user") == 0
        sessions = _group_sessions(flagged.filter(F.col("reason").isNull()))
        sessions = _assign_splits(sessions, config, by_user).persist(StorageLevel.MEMORY_AND_DISK)
        split_counts = _check_splits(sessions, source)
        vocabularies = _build_vocabularies(sessions, config.train.min_count)
        # Materialise the encoding before the frames it is built from are released: the caller
        # gets one cached frame (unpersist it when done) and nothing else stays cached.
        encoded = _encode(sessions, vocabularies, config).persist(StorageLevel.MEMORY_AND_DISK)
        encoded.count()
    finally:
        for frame in (cached, flagged, sessions):
            if frame is not None:
                frame.unpersist()
    return SparkSessions(encoded, vocabularies, counts, split_counts, config)


def _settled(events: Any, config: Config) -> tuple[Config, Any, dict]:
    """The config with ``session_id`` settled, the events without malformed lines, and what
    :mod:`eventlift.spark.canonical` noted of those lines (``lines``, ``numbers``).

    A left-out ``session_id`` means derived sessions when the canonical events hold no session
    id (:meth:`~eventlift.config.ColumnsConfig.resolve`, as the local run decides it).
    """
    from pyspark.sql import functions as F

    if config.columns.session_id is None:
        found = bool(events.filter(F.col("session_id").isNotNull()).take(1))
        config = dataclasses.replace(config, columns=config.columns.resolve(found))
    malformed = {}
    if MALFORMED in events.columns:
        malformed = dict(events.schema[MALFORMED].metadata)
        events = events.filter(~F.col(MALFORMED)).drop(MALFORMED)
    return config, events, malformed


def _group_sessions(kept: Any) -> Any:
    """One row per session with its events as arrays in position order."""
    from pyspark.sql import functions as F

    item = F.struct("position", "user_id", TS_US, "gap_seconds", *_EVENT_ARRAYS, "converted").alias(
        "item"
    )
    grouped = kept.groupBy("session_id").agg(F.sort_array(F.collect_list(item)).alias("items"))
    return grouped.select(
        "session_id",
        F.expr("try_element_at(filter(items, x -> x.user_id IS NOT NULL), 1).user_id").alias(
            "user_id"
        ),
        F.expr("items[0].converted").alias("converted"),
        F.size("items").cast("long").alias("n_events"),
        F.expr(f"items[0].{TS_US}").alias("start_us"),
        *[
            F.expr(f"transform(items, x -> x.{name})").alias(alias)
            for name, alias in _EVENT_ARRAYS.items()
        ],
        F.expr(f"transform(items, x -> x.{TS_US})").alias("ts"),
        F.expr("transform(items, x -> x.gap_seconds)").alias("gaps"),
    )


def _assign_splits(sessions: Any, config: Config, by_user: bool) -> Any:
    """The split of each session, as :func:`eventlift.data.split.assign_splits` gives it."""
    from pyspark.sql import functions as F

    edges = [float(e) for e in np.cumsum(config.train.split_fractions)[:2]]
    if config.train.split == "time":
        unit = _time_rank(sessions, config)
    else:
        seed = config.train.seed
        key = "user_id" if by_user else "session_id"
        keys = sessions.select("session_id", F.col(key).alias("_key"))

        def hash_keys(batches):
            for batch in batches:
                unit = hash_unit_interval(batch["_key"].reset_index(drop=True), seed)
                yield pd.DataFrame({"session_id": batch["session_id"], "_unit": unit})

        unit = keys.mapInPandas(hash_keys, "session_id string, _unit double")
    code = F.when(F.col("_unit") < edges[0], SPLITS[0]).when(F.col("_unit") < edges[1], SPLITS[1])
    split = unit.select("session_id", code.otherwise(SPLITS[2]).alias("split"))
    return sessions.join(split, "session_id").select(*SESSION_COLUMNS)


def _time_rank(sessions: Any, config: Config) -> Any:
    """(rank + 0.5) / n by first event time, ties as the local path orders sessions.

    ``zipWithIndex`` numbers the sorted sessions partition by partition, so no single task
    holds them all.
    """
    key = "session_id" if config.columns.session_id else "user_id"
    ordered = sessions.select("session_id", "start_us", key).orderBy("start_us", key, "session_id")
    total = sessions.count()
    ranked = ordered.rdd.zipWithIndex().map(lambda pair: (pair[0][0], (pair[1] + 0.5) / total))
    return ranked.toDF("session_id string, _unit double")


def _check_splits(sessions: Any, source: str) -> dict[str, dict[str, int]]:
    """Sessions and converted sessions per split; every split must hold both labels."""
    from pyspark.sql import functions as F

    found = {
        r["split"]: {"sessions": r["n"], "converted": r["converted"]}
        for r in sessions.groupBy("split")
        .agg(F.count("*").alias("n"), F.sum(F.col("converted").cast("long")).alias("converted"))
        .collect()
    }
    for name in SPLITS:
        split = found.get(name, {"sessions": 0, "converted": 0})
        if not 0 < split["converted"] < split["sessions"]:
            raise ConfigError(
                f"{source}: the {name} split holds {split['sessions']} sessions and not both "
                f"converted and non-converted ones, so the model cannot be trained or evaluated. "
                f"Fix: use more sessions, or change [train] split_fractions / split."
            )
    return found


def _build_vocabularies(sessions: Any, min_count: int) -> dict[str, Vocabulary]:
    """Vocabularies of the training split, counted in one Spark job; only kept values return."""
    from pyspark.sql import functions as F

    train = sessions.filter(F.col("split") == SPLITS[0])
    tagged = [F.transform(F.col(array), _tagger(name)) for name, array in _VOCAB_ARRAYS.items()]
    counts = (
        train.select(F.explode(F.concat(*tagged)).alias("item"))
        .select("item.kind", "item.token")
        .filter(F.col("token").isNotNull())
        .groupBy("kind", "token")
        .count()
        .filter(F.col("count") >= min_count)
        .collect()
    )
    vocabularies = {}
    for name in _VOCAB_ARRAYS:
        rows = sorted((-r["count"], r["token"]) for r in counts if r["kind"] == name)
        vocabularies[name] = Vocabulary(["<pad>", "<unk>", *[token for _, token in rows]])
    return vocabularies


def _tagger(name: str) -> Any:
    """``x -> struct(name, x)`` for ``transform`` (a one-argument lambda, as Spark requires)."""
    from pyspark.sql import functions as F

    return lambda x: F.struct(F.lit(name).alias("kind"), x.alias("token"))


def _encode(sessions: Any, vocabularies: dict[str, Vocabulary], config: Config) -> Any:
    """Add the id arrays with ``mapInPandas``; the vocabularies travel once as a broadcast."""
    tokens = {name: vocab.tokens for name, vocab in vocabularies.items()}
    shared = sessions.sparkSession.sparkContext.broadcast(tokens)
    n_buckets = config.model.gap_buckets

    def encode(batches):
        local = {name: Vocabulary(values) for name, values in shared.value.items()}
        for batch in batches:
            lengths = batch["n_events"].to_numpy(dtype=np.int64)
            starts = np.cumsum(lengths) - lengths  # (S,) offset of each session's first event
            for name, array in _VOCAB_ARRAYS.items():
                flat = pd.Series(_flatten(batch[array]), dtype="string")
                ids = local[name].encode(flat).astype(np.int32)
                batch[f"{_ID_NAMES[name]}"] = _split(ids, starts, lengths)
            gaps = _flatten(batch["gaps"]).astype(np.float64)
            first = np.zeros(len(gaps), dtype=bool)
            first[starts[lengths > 0]] = True
            buckets = np.where(first, 0, gap_bucket(gaps, n_buckets)).astype(np.int32)
            batch["gap_ids"] = _split(buckets, starts, lengths)
            yield batch

    return sessions.mapInPandas(encode, ENCODED_SCHEMA)


_ID_NAMES = {"event": "event_ids", "category": "category_ids", "store": "store_ids"}


def _flatten(column: pd.Series) -> np.ndarray:
    parts = [np.asarray(values, dtype=object) for values in column]
    return np.concatenate(parts) if parts else np.array([], dtype=object)


def _split(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return [values[s : s + n] for s, n in zip(starts, lengths, strict=True)]


def event_rows(sessions: Any) -> Any:
    """One row per kept event: ``session_id, position`` and the event's columns and ids."""
    from pyspark.sql import functions as F

    zipped = F.arrays_zip(
        *[F.col(c) for c in (*_EVENT_ARRAYS.values(), "ts", "gaps")],
        *[F.col(c) for c in ID_COLUMNS if c in sessions.columns],
    )
    exploded = sessions.select(
        "session_id", "converted", "split", "n_events", F.posexplode(zipped).alias("i", "e")
    )
    return exploded.select(
        "session_id",
        (F.col("i") + 1).cast("long").alias("position"),
        *[F.col(f"e.{alias}").alias(name) for name, alias in _EVENT_ARRAYS.items()],
        F.col("e.ts").alias(TS_US),
        F.col("e.gaps").alias("gap_seconds"),
        *[F.col(f"e.{c}").alias(c) for c in ID_COLUMNS if c in sessions.columns],
        "converted",
        "split",
        F.col("n_events").alias("session_length"),
    )
