"""DESIGN §3 in Spark, part one: every input row flagged with why it is dropped, and the counts.

The rules are those of :func:`eventlift.data.sessions.build_sessions`, expressed as window
functions over a single flagged frame: every input row stays in it with the ``reason`` it was
dropped for (null while kept), windows are partitioned by ``reason`` as well as by session so a
dropped row never influences the kept ones, and one aggregation at the end gives every count the
run summary reports. Kept rows carry their session, position and time gap;
:mod:`eventlift.spark.prepare` groups them into sessions.
"""

from __future__ import annotations

from typing import Any

from eventlift.config import Config
from eventlift.data.funnel import DETAIL_SEPARATOR, FunnelRule
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
            F.concat(F.col("event"), F.lit(DETAIL_SEPARATOR), detail)
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
        rule = FunnelRule.from_config(settings)
        funnel = rule.spark_condition(F.col("event_name"), F.col("event_category"))
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


def count_rows(flagged: Any, mode: str) -> dict:
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
