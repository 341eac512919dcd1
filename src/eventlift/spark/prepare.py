"""DESIGN §3 in Spark: labelled, ordered, truncated, split and encoded sessions.

The rules are those of :func:`eventlift.data.sessions.build_sessions`,
:func:`eventlift.data.split.assign_splits` and :mod:`eventlift.data.encode`, expressed as window
functions over a single flagged frame: every input row stays in it with the ``reason`` it was
dropped for (null while kept), windows are partitioned by ``reason`` as well as by session so a
dropped row never influences the kept ones, and one aggregation at the end gives every count the
run summary reports. Nothing but small results (counts, vocabularies, a few error rows) reaches
the driver. The split hash is the local :func:`~eventlift.data.split.hash_unit_interval`, applied
with ``mapInPandas`` over sessions, and encoding applies the local
:class:`~eventlift.data.vocab.Vocabulary` with the vocabularies broadcast, so both paths give the
same values by construction.

The result keeps one row per session with its events as arrays (``SESSION_SCHEMA``): the model's
inputs and everything the event-level output needs, without a join back to the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from eventlift.config import Config
from eventlift.data.encode import gap_bucket
from eventlift.data.schema import SPLITS
from eventlift.data.split import hash_unit_interval
from eventlift.data.vocab import Vocabulary
from eventlift.exceptions import ConfigError, EmptyInputError, LabelError
from eventlift.spark.canonical import TS_US

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
    """

    sessions: Any  # pyspark DataFrame, one row per session
    vocabularies: dict[str, Vocabulary]
    counts: dict = field(default_factory=dict)


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

    _check_conversions(events, config, source)
    flagged = _flag_rows(events, config, mode).persist(StorageLevel.MEMORY_AND_DISK)
    sessions = None
    try:
        counts = _count(flagged, mode)
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
        _check_splits(sessions, source)
        vocabularies = _build_vocabularies(sessions, config.train.min_count)
        # Materialise the encoding before the frames it is built from are released: the caller
        # gets one cached frame (unpersist it when done) and nothing else stays cached.
        encoded = _encode(sessions, vocabularies, config).persist(StorageLevel.MEMORY_AND_DISK)
        encoded.count()
    finally:
        flagged.unpersist()
        if sessions is not None:
            sessions.unpersist()
    return SparkSessions(encoded, vocabularies, counts)


def _check_conversions(events: Any, config: Config, source: str) -> None:
    from pyspark.sql import functions as F

    conversions = config.sessions.conversion_events
    if conversions:
        found = events.filter(F.col("event").isin(conversions)).select("event").distinct()
        present = {row[0] for row in found.collect()}
        missing = [name for name in conversions if name not in present]
    else:
        category = F.lower(F.col("event_category")) == "conversion"
        missing = [] if events.filter(category).take(1) else ["<category conversion>"]
    if missing:
        top = events.filter(F.col("event").isNotNull()).groupBy("event").count()
        frequent = ", ".join(repr(r[0]) for r in top.orderBy(F.desc("count")).take(8))
        what = (
            f"conversion event(s) {missing} never occur in column {config.columns.event!r}"
            if conversions
            else "no conversion event found: [sessions] conversion_events is empty and no "
            "event has category 'conversion'"
        )
        raise LabelError(
            f"{source}: {what}. The most frequent event names are: {frequent}. Fix: set "
            f"[sessions] conversion_events to the name(s) your log uses."
        )


def _flag_rows(events: Any, config: Config, mode: str) -> Any:
    """Every row with its ``reason`` (null when kept), session, position and time gap."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    settings, columns = config.sessions, config.columns
    key = "user_id" if not columns.session_id else "session_id"
    derive = not columns.session_id or settings.derive_sessions
    reason, ts = F.col("reason"), F.col(TS_US)
    frame = events.withColumn("event_name", F.col("event"))
    if settings.use_event_detail:
        detail = F.col("event_detail")
        token = F.when(detail.isNull(), F.col("event")).otherwise(
            F.concat(F.col("event"), F.lit(" - "), detail)
        )
        frame = frame.withColumn("event", token)
    frame = frame.withColumn(
        "reason",
        F.when(F.col("event").isNull(), "null_event_name")
        .when(F.col(key).isNull(), "null_session_key")
        .when(ts.isNull(), "null_timestamp"),
    )
    same_row = [*[c for c in events.columns if c != "row_number"], "reason"]
    first = F.row_number().over(Window.partitionBy(*same_row).orderBy("row_number"))
    duplicate = reason.isNull() & (first > 1)
    frame = frame.withColumn("reason", F.when(duplicate, "duplicate_rows").otherwise(reason))

    if derive:
        by_key = Window.partitionBy(key, "reason").orderBy(TS_US, "row_number")
        gap_us = settings.inactivity_gap_minutes * 60e6
        previous = F.lag(ts).over(by_key)
        start = (previous.isNull() | ((ts - previous).cast("double") > gap_us)).cast("long")
        frame = frame.withColumn("_start", start).withColumn(
            "session_id",
            F.concat(
                F.col(key),
                F.lit("#"),
                F.sum("_start")
                .over(by_key.rowsBetween(Window.unboundedPreceding, 0))
                .cast("string"),
            ),
        )

    ordered = Window.partitionBy("session_id", "reason").orderBy(TS_US, "row_number")
    whole = ordered.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    running = ordered.rowsBetween(Window.unboundedPreceding, 0)
    if settings.conversion_events:
        is_conversion = F.col("event").isin(settings.conversion_events)
    else:
        is_conversion = F.lower(F.col("event_category")) == "conversion"
    frame = frame.withColumn("_conv", F.coalesce(is_conversion, F.lit(False)))
    frame = (
        frame.withColumn("_tie", reason.isNull() & (F.lag(ts).over(ordered) == ts))
        .withColumn("converted", F.max("_conv").over(whole))
        .withColumn("_starts", F.first("_conv").over(whole))
        .withColumn("_seen", F.sum(F.col("_conv").cast("long")).over(running))
    )
    frame = frame.withColumn(
        "reason",
        F.when(reason.isNotNull(), reason)
        .when(F.col("_starts"), "session_starts_with_conversion")
        .when(F.col("_seen") > 0, "at_or_after_conversion"),
    )
    if mode == "no_funnel":
        funnel = F.lit(False)
        if settings.funnel_categories:
            funnel = funnel | F.col("event_category").isin(settings.funnel_categories)
        if settings.funnel_events:
            funnel = funnel | F.col("event_name").isin(settings.funnel_events)
        funnel = F.coalesce(funnel, F.lit(False))
        frame = frame.withColumn(
            "reason", F.when(reason.isNull() & funnel, "funnel_events").otherwise(reason)
        )

    kept = Window.partitionBy("session_id", "reason").orderBy(TS_US, "row_number")
    order = F.row_number().over(kept) - 1
    length = F.count("*").over(
        kept.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )
    frame = frame.withColumn("_order", order).withColumn("_length", length)
    max_len = settings.max_len
    if settings.truncate == "head":
        cut = F.col("_order") >= max_len
        position = F.col("_order") + 1
    else:
        cut = F.col("_order") < F.col("_length") - max_len
        position = F.col("_order") - F.greatest(F.col("_length") - max_len, F.lit(0)) + 1
    gap = F.greatest((ts - F.lag(ts).over(kept)).cast("double") / 1e6, F.lit(0.0))
    frame = (
        frame.withColumn("position", position.cast("long"))
        .withColumn("gap_seconds", F.when(position == 1, F.lit(0.0)).otherwise(gap))
        .withColumn("reason", F.when(reason.isNull() & cut, "truncated").otherwise(reason))
    )
    return frame


def _count(flagged: Any, mode: str) -> dict:
    """Rows by drop reason and sessions by what happened to them, in one aggregation."""
    from pyspark.sql import functions as F

    reasons = [
        "null_event_name", "null_session_key", "null_timestamp", "duplicate_rows",
        "session_starts_with_conversion", "at_or_after_conversion",
    ]  # fmt: skip
    if mode == "no_funnel":
        reasons.append("funnel_events")
    reasons.append("truncated")
    reason = F.col("reason")
    early = F.coalesce(reason.isin(*reasons[:4]), F.lit(False))  # before sessions existed
    kept = reason.isNull()

    def flag(condition: Any) -> Any:
        return F.max(~early & F.coalesce(condition, F.lit(False)))

    per_session = flagged.groupBy("session_id").agg(
        *[F.sum((reason == r).cast("long")).alias(r) for r in reasons],
        F.sum(kept.cast("long")).alias("events"),
        F.sum(F.col("_tie").cast("long")).alias("ties"),
        flag(reason == "session_starts_with_conversion").alias("starts"),
        flag(kept | reason.isin("funnel_events", "truncated")).alias("labelled"),
        flag(kept | (reason == "truncated")).alias("after_funnel"),
        flag(reason == "truncated").alias("truncated_session"),
        flag(kept).alias("kept"),
        flag(kept & F.col("converted")).alias("converted_session"),
        flag(kept & F.col("user_id").isNull()).alias("no_user"),
    )

    def total(column: Any) -> Any:
        return F.coalesce(F.sum(column.cast("long")), F.lit(0))

    flags = per_session.agg(
        *[total(F.col(r)).alias(r) for r in (*reasons, "events", "ties")],
        total(F.col("starts")).alias("starts"),
        total(F.col("labelled") & ~F.col("after_funnel")).alias("emptied"),
        total(F.col("truncated_session")).alias("truncated_sessions"),
        total(F.col("kept")).alias("sessions"),
        total(F.col("converted_session")).alias("converted_sessions"),
        total(F.col("no_user")).alias("no_user"),
    ).first()
    dropped_sessions = {"starts_with_conversion": flags["starts"]}
    if mode == "no_funnel":
        dropped_sessions["emptied_by_funnel_exclusion"] = flags["emptied"]
    dropped = {r: flags[r] for r in reasons}
    return {
        "rows_read": flags["events"] + sum(dropped.values()),
        "dropped_rows": dropped,
        "dropped_sessions": dropped_sessions,
        "timestamp_ties": flags["ties"],
        "truncated_sessions": flags["truncated_sessions"],
        "events": flags["events"],
        "sessions": flags["sessions"],
        "converted_sessions": flags["converted_sessions"],
        "_no_user": flags["no_user"],
    }


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


def _check_splits(sessions: Any, source: str) -> None:
    from pyspark.sql import functions as F

    found = {
        r["split"]: (r["n"], r["labels"])
        for r in sessions.groupBy("split")
        .agg(F.count("*").alias("n"), F.countDistinct("converted").alias("labels"))
        .collect()
    }
    for name in SPLITS:
        n, labels = found.get(name, (0, 0))
        if labels < 2:
            raise ConfigError(
                f"{source}: the {name} split holds {n} sessions and not both converted and "
                f"non-converted ones, so the model cannot be trained or evaluated. Fix: use more "
                f"sessions, or change [train] split_fractions / split."
            )


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
