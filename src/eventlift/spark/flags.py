"""The session rules in Spark, part one: each input row flagged with why it is dropped; counts.

The rules are those of :func:`eventlift.data.sessions.build_sessions`, expressed as window
functions over a single flagged frame: every input row stays in it with the ``reason`` it was
dropped for (null while kept), windows are partitioned by ``reason`` as well as by session so a
dropped row never influences the kept ones, and one aggregation at the end gives every count the
run summary reports. Kept rows carry their session, position and time gap;
:mod:`eventlift.spark.prepare` groups them into sessions.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from eventlift.config import Config, SessionsConfig
from eventlift.data.funnel import DETAIL_SEPARATOR, FunnelRule
from eventlift.data.windows import LengthReference, matched_lengths
from eventlift.exceptions import LabelError
from eventlift.spark.canonical import TS_US

__all__ = ["check_conversions", "count_rows", "flag_rows"]


def check_conversions(events: Any, config: Config, source: str) -> None:
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


def flag_rows(events: Any, config: Config, mode: str) -> Any:
    """Every row with its ``reason`` (null when kept), session, position and time gap.

    The steps of :func:`eventlift.data.sessions.build_sessions`, in its order: unusable and
    duplicate rows, sessions derived by inactivity, labels and the cut at the first conversion,
    funnel exclusion (``no_funnel``), the session window, then positions and truncation to
    ``max_len``.
    """
    from pyspark.sql import functions as F

    settings, columns = config.sessions, config.columns
    key = "user_id" if not columns.session_id else "session_id"
    frame = _flag_unusable(events, settings.use_event_detail, key)
    if not columns.session_id or settings.derive_sessions:
        frame = _derive_sessions(frame, key, settings.inactivity_gap_minutes)
    frame = _flag_labels(frame, settings)
    if mode == "no_funnel":
        reason = F.col("reason")
        funnel = FunnelRule.from_config(settings).spark_condition(
            F.col("event_name"), F.col("event_category")
        )
        frame = frame.withColumn(
            "reason", F.when(reason.isNull() & funnel, "funnel_events").otherwise(reason)
        )
    if settings.window != "full":
        frame = _flag_window(frame, settings, config.train.seed)
    return _positions(frame, settings.max_len, settings.truncate)


def _flag_unusable(events: Any, use_event_detail: bool, key: str) -> Any:
    """Rows without an event, a session key or a time, and exact duplicates, flagged."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    reason = F.col("reason")
    frame = events.withColumn("event_name", F.col("event"))
    if use_event_detail:
        detail = F.col("event_detail")
        token = F.when(detail.isNull(), F.col("event")).otherwise(
            F.concat(F.col("event"), F.lit(DETAIL_SEPARATOR), detail)
        )
        frame = frame.withColumn("event", token)
    frame = frame.withColumn(
        "reason",
        F.when(F.col("event").isNull(), "null_event_name")
        .when(F.col(key).isNull(), "null_session_key")
        .when(F.col(TS_US).isNull(), "null_timestamp"),
    )
    same_row = [*[c for c in events.columns if c != "row_number"], "reason"]
    first = F.row_number().over(Window.partitionBy(*same_row).orderBy("row_number"))
    duplicate = reason.isNull() & (first > 1)
    return frame.withColumn("reason", F.when(duplicate, "duplicate_rows").otherwise(reason))


def _derive_sessions(frame: Any, key: str, gap_minutes: float) -> Any:
    """``session_id`` = the key and a counter that grows after every gap over ``gap_minutes``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ts = F.col(TS_US)
    by_key = Window.partitionBy(key, "reason").orderBy(TS_US, "row_number")
    previous = F.lag(ts).over(by_key)
    start = (previous.isNull() | ((ts - previous).cast("double") > gap_minutes * 60e6)).cast("long")
    counter = F.sum("_start").over(by_key.rowsBetween(Window.unboundedPreceding, 0))
    return frame.withColumn("_start", start).withColumn(
        "session_id", F.concat(F.col(key), F.lit("#"), counter.cast("string"))
    )


def _flag_labels(frame: Any, settings: SessionsConfig) -> Any:
    """Each session's label, and its events from the first conversion on flagged."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    reason, ts = F.col("reason"), F.col(TS_US)
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
    return frame.withColumn(
        "reason",
        F.when(reason.isNotNull(), reason)
        .when(F.col("_starts"), "session_starts_with_conversion")
        .when(F.col("_seen") > 0, "at_or_after_conversion"),
    )


def _flag_window(frame: Any, settings: SessionsConfig, seed: int) -> Any:
    """Kept events past their session's window flagged ``outside_window``, as
    :mod:`eventlift.data.windows` decides it: a prefix by order and elapsed time, or the
    matched length each session keeps (from the converted and other lengths, gathered on the
    driver as counts per length, and :func:`~eventlift.data.windows.matched_lengths`)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    reason, ts = F.col("reason"), F.col(TS_US)
    kept = Window.partitionBy("session_id", "reason").orderBy(TS_US, "row_number")
    whole = kept.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    order = F.row_number().over(kept) - 1
    if settings.window == "prefix":
        outside = F.lit(False)
        if settings.window_events:
            outside = outside | (order >= settings.window_events)
        if settings.window_minutes:
            elapsed = (ts - F.min(ts).over(whole)).cast("double")
            outside = outside | (elapsed > settings.window_minutes * 60e6)
    else:
        lengths = (
            frame.filter(reason.isNull())
            .groupBy("session_id")
            .agg(F.count("*").alias("_length"), F.max("converted").alias("_converted"))
        )
        counted = lengths.groupBy("_converted", "_length").count().toPandas()
        references = tuple(
            LengthReference(part["_length"].to_numpy(), part["count"].to_numpy())
            for part in (counted[counted["_converted"]], counted[~counted["_converted"]])
        )

        def keep(batches: Any) -> Any:
            for batch in batches:
                ids = batch["session_id"].reset_index(drop=True)
                lengths_kept = matched_lengths(
                    batch["_length"].to_numpy(),
                    batch["_converted"].to_numpy(),
                    ids,
                    references,
                    seed,
                )
                yield pd.DataFrame({"session_id": ids, "_keep": lengths_kept})

        cuts = lengths.mapInPandas(keep, "session_id string, _keep long")
        frame = frame.join(cuts, "session_id", "left")
        outside = F.coalesce(order >= F.col("_keep"), F.lit(False))
    return frame.withColumn(
        "reason", F.when(reason.isNull() & outside, "outside_window").otherwise(reason)
    )


def _positions(frame: Any, max_len: int, truncate: str) -> Any:
    """1-based positions and gaps among the kept events; events past ``max_len`` flagged."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    reason, ts = F.col("reason"), F.col(TS_US)
    kept = Window.partitionBy("session_id", "reason").orderBy(TS_US, "row_number")
    order = F.row_number().over(kept) - 1
    length = F.count("*").over(
        kept.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    )
    frame = frame.withColumn("_order", order).withColumn("_length", length)
    if truncate == "head":
        cut = F.col("_order") >= max_len
        position = F.col("_order") + 1
    else:
        cut = F.col("_order") < F.col("_length") - max_len
        position = F.col("_order") - F.greatest(F.col("_length") - max_len, F.lit(0)) + 1
    gap = F.greatest((ts - F.lag(ts).over(kept)).cast("double") / 1e6, F.lit(0.0))
    return (
        frame.withColumn("position", position.cast("long"))
        .withColumn("gap_seconds", F.when(position == 1, F.lit(0.0)).otherwise(gap))
        .withColumn("reason", F.when(reason.isNull() & cut, "truncated").otherwise(reason))
    )


def count_rows(flagged: Any, mode: str, window: str = "full") -> dict:
    """Rows by drop reason and sessions by what happened to them, in one aggregation."""
    from pyspark.sql import functions as F

    reasons = [
        "null_event_name", "null_session_key", "null_timestamp", "duplicate_rows",
        "session_starts_with_conversion", "at_or_after_conversion",
    ]  # fmt: skip
    if mode == "no_funnel":
        reasons.append("funnel_events")
    if window != "full":
        reasons.append("outside_window")
    reasons.append("truncated")
    later = [r for r in ("outside_window", "truncated") if r in reasons]  # after the funnel
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
        flag(kept | reason.isin("funnel_events", *later)).alias("labelled"),
        flag(kept | reason.isin(*later)).alias("after_funnel"),
        flag(reason == "outside_window").alias("windowed_session"),
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
        total(F.col("windowed_session")).alias("windowed_sessions"),
        total(F.col("kept")).alias("sessions"),
        total(F.col("converted_session")).alias("converted_sessions"),
        total(F.col("no_user")).alias("no_user"),
    ).first()
    dropped_sessions = {"starts_with_conversion": flags["starts"]}
    if mode == "no_funnel":
        dropped_sessions["emptied_by_funnel_exclusion"] = flags["emptied"]
    dropped = {r: flags[r] for r in reasons}
    windowed = {"windowed_sessions": flags["windowed_sessions"]} if window != "full" else {}
    return {
        "rows_read": flags["events"] + sum(dropped.values()),
        "dropped_rows": dropped,
        "dropped_sessions": dropped_sessions,
        "timestamp_ties": flags["ties"],
        **windowed,
        "truncated_sessions": flags["truncated_sessions"],
        "events": flags["events"],
        "sessions": flags["sessions"],
        "converted_sessions": flags["converted_sessions"],
        "_no_user": flags["no_user"],
    }
