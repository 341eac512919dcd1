"""The attribution tables in Spark SQL, with the local definitions of the lift.

Same columns and meanings as :func:`eventlift.analysis.tables.attribution_tables`:

- event type and position: per side, the share of a session's attribution that the group takes,
  averaged over the side's sessions (0 for a session without the group);
- store, event at position and the event × bucket matrix: the mean attribution of the group's
  events on each side;
- ``lift_length_adjusted``: the same per-event difference of ``attribution * session_length``.

Everything is first summed per (group, session), then per group, so no step holds more than one
group's sessions. **Intervals** differ from the local path on purpose: a bootstrap needs every
session in one place, so here the 95 % interval is a normal approximation over sessions,
``lift ± 1.96·se``. For session shares, ``se² = Σ_side var(y_s)/n_side`` with ``y_s`` the group's
share in session ``s`` (0 when absent) and the sample variance over all of the side's sessions.
For per-event means (ratios ``R = Σa_s / Σm_s`` over the sessions touching the group, ``a_s`` the
attribution and ``m_s`` the events of the group in session ``s``) the delta method gives
``var(R) = Σ(a_s − R·m_s)² / (k(k−1)·m̄²)`` with ``k`` such sessions and ``m̄ = Σm_s / k``; the same
rule gives the interval of ``attr_signed_mean``. Intervals are null with fewer than two sessions
on a side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventlift.analysis.tables import (
    EVENT_POSITION_COLUMNS,
    EVENT_TYPE_COLUMNS,
    MATRIX_COLUMNS,
    POSITION_COLUMNS,
    STORE_COLUMNS,
    position_bucket_labels,
)
from eventlift.exceptions import ConfigError, DataError, MissingColumnError

__all__ = ["Z_95", "attribution_tables_spark"]

Z_95 = 1.959963984540054
_SIDES = {"c": True, "n": False}


def attribution_tables_spark(
    events: Any,
    *,
    position_buckets: Sequence[int] = (1, 6, 11, 21, 51),
    min_support: int = 20,
    stores: Any = None,
) -> dict[str, Any]:
    """Event type, position, store, event at position and matrix tables as Spark DataFrames.

    ``events`` is the event-level DataFrame already restricted to the attribution split. Each
    table is ordered as the local one (by lift descending, nulls last, then the key).
    """
    from pyspark.sql import functions as F

    labels = position_bucket_labels(position_buckets)
    if min_support < 0:
        raise ConfigError(f"[attribution] min_support must be >= 0, got {min_support}.")
    needed = ("session_id", "position", "event", "attribution_raw", "attribution", "converted",
              "session_length")  # fmt: skip
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise MissingColumnError(
            f"the event-level DataFrame lacks column(s) {missing}; it holds {events.columns}."
        )
    sides = {r["converted"]: r["n"] for r in events.groupBy("converted")
             .agg(F.countDistinct("session_id").alias("n")).collect()}  # fmt: skip
    n_side = {"c": sides.get(True, 0), "n": sides.get(False, 0)}
    bucket = _bucket_column(position_buckets, labels)
    ev = (
        events.withColumn("position_bucket", bucket)
        .withColumn("_bucket", _bucket_column(position_buckets, list(range(len(labels)))))
        .withColumn("adjusted", F.col("attribution") * F.col("session_length"))
    )
    stats = {
        "event_type": _stats(ev, ["event"], n_side, min_support, per_session=True),
        "position": _stats(ev, ["position_bucket"], n_side, min_support, per_session=True),
        "store": _stats(
            ev.filter(F.col("store_id").isNotNull()), ["store_id"], n_side, min_support
        ),
        "event_position": _stats(ev, ["position", "event"], n_side, min_support),
        "matrix": _stats(ev, ["event", "_bucket", "position_bucket"], n_side, 0),
    }
    event_type = stats["event_type"].join(
        _most_frequent(ev, "event", "event_category"), "event", "left"
    )
    order = [F.desc_nulls_last("lift")]
    tables = {
        "event_type": event_type.select(*EVENT_TYPE_COLUMNS).orderBy(*order, "event"),
        "position": _all_buckets(ev.sparkSession, stats["position"], labels),
        "store": _stores(ev, stats["store"], stores).orderBy(*order, "store_id"),
        "event_position": stats["event_position"]
        .select(*EVENT_POSITION_COLUMNS)
        .orderBy("position", *order, "event"),
        "event_position_matrix": stats["matrix"]
        .orderBy("event", "_bucket")
        .select(*MATRIX_COLUMNS),
    }
    return tables


def _bucket_column(edges: Sequence[int], labels: Sequence[Any]) -> Any:
    from pyspark.sql import functions as F

    column = F.lit(labels[-1])
    for stop, label in reversed(list(zip(edges[1:], labels[:-1], strict=True))):
        column = F.when(F.col("position") < stop, label).otherwise(column)
    return column


def _stats(
    ev: Any, keys: list[str], n_side: dict, min_support: int, per_session: bool = False
) -> Any:
    """Support, side means, lifts, intervals and conversion rate per group (see module doc)."""
    from pyspark.sql import functions as F

    pairs = ev.groupBy(*keys, "session_id", "converted").agg(
        F.sum("attribution").alias("a"),
        F.count("*").cast("double").alias("m"),
        F.sum("adjusted").alias("adj"),
        F.sum("attribution_raw").alias("sig"),
    )
    sums = []
    for side, flag in _SIDES.items():
        on = F.col("converted") == flag

        def total(expr: Any, name: str, on: Any = on, side: str = side) -> Any:
            return F.sum(F.when(on, expr).otherwise(0.0)).alias(f"{name}_{side}")

        a, m = F.col("a"), F.col("m")
        sums += [
            total(m, "m"), total(a, "a"), total(a * a, "aa"), total(a * m, "am"),
            total(m * m, "mm"), total(F.col("adj"), "adj"),
            total(F.lit(1.0), "k"),
        ]  # fmt: skip
    s, m = F.col("sig"), F.col("m")
    sums += [F.sum(s).alias("sig"), F.sum(s * s).alias("ss"), F.sum(s * m).alias("sm"),
             F.sum(m * m).alias("mm_all")]  # fmt: skip
    grouped = pairs.groupBy(*keys).agg(*sums)

    def col(name: str) -> Any:
        return F.col(name)

    out = grouped
    for side in _SIDES:
        m_side, k = col(f"m_{side}"), col(f"k_{side}")
        if per_session:
            n = F.lit(float(n_side[side]))
            mean = F.try_divide(col(f"a_{side}"), n)
            variance = F.try_divide(col(f"aa_{side}") - n * mean * mean, n - 1)
            var_mean = F.try_divide(variance, n)
        else:
            mean = F.try_divide(col(f"a_{side}"), m_side)
            var_mean = _ratio_variance(col(f"a_{side}"), col(f"aa_{side}"), col(f"am_{side}"),
                                       col(f"mm_{side}"), m_side, k)  # fmt: skip
        out = out.withColumn(f"mean_{side}", mean).withColumn(f"var_{side}", var_mean)
    n_events = col("m_c") + col("m_n")
    k_all = col("k_c") + col("k_n")
    signed = F.try_divide(col("sig"), n_events)
    signed_var = _ratio_variance(col("sig"), col("ss"), col("sm"), col("mm_all"), n_events, k_all)
    if per_session:
        all_sessions = float(n_side["c"] + n_side["n"])
        attr_mean = F.try_divide(col("a_c") + col("a_n"), F.lit(all_sessions))
    else:
        attr_mean = F.try_divide(col("a_c") + col("a_n"), n_events)
    se = F.sqrt(col("var_c") + col("var_n"))
    signed_se = F.sqrt(signed_var)
    lift = col("mean_c") - col("mean_n")
    return out.select(
        *keys,
        n_events.cast("long").alias("n_events"),
        k_all.cast("long").alias("n_sessions"),
        attr_mean.alias("attr_mean"),
        col("mean_c").alias("attr_converted"),
        col("mean_n").alias("attr_not_converted"),
        lift.alias("lift"),
        (lift - Z_95 * se).alias("lift_ci_low"),
        (lift + Z_95 * se).alias("lift_ci_high"),
        (F.try_divide(col("adj_c"), col("m_c")) - F.try_divide(col("adj_n"), col("m_n"))).alias(
            "lift_length_adjusted"
        ),
        signed.alias("attr_signed_mean"),
        (signed - Z_95 * signed_se).alias("attr_signed_ci_low"),
        (signed + Z_95 * signed_se).alias("attr_signed_ci_high"),
        F.try_divide(col("k_c"), k_all).alias("session_conversion_rate"),
        ((col("m_c") < min_support) | (col("m_n") < min_support)).alias("low_support"),
    )


def _ratio_variance(a: Any, aa: Any, am: Any, mm: Any, m: Any, k: Any) -> Any:
    """Delta-method variance of ``Σa/Σm`` over ``k`` sessions; null when ``k < 2``."""
    from pyspark.sql import functions as F

    ratio = F.try_divide(a, m)
    residual = aa - 2 * ratio * am + ratio * ratio * mm
    m_bar = F.try_divide(m, k)
    value = F.try_divide(F.greatest(residual, F.lit(0.0)), k * (k - 1) * m_bar * m_bar)
    return F.when(k >= 2, value)


def _most_frequent(ev: Any, key: str, value: str) -> Any:
    """The most frequent non-null ``value`` of each ``key`` (ties: the smallest value)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = ev.filter(F.col(value).isNotNull()).groupBy(key, value).count()
    rank = F.row_number().over(Window.partitionBy(key).orderBy(F.desc("count"), value))
    return counts.withColumn("_rank", rank).filter("_rank = 1").select(key, value)


def _all_buckets(spark: Any, stats: Any, labels: list[str]) -> Any:
    """Every bucket in order, also empty ones (zero events, null means, flagged low support)."""
    from pyspark.sql import functions as F

    frame = spark.createDataFrame([(i, label) for i, label in enumerate(labels)],
                                  "_order int, position_bucket string")  # fmt: skip
    joined = frame.join(stats, "position_bucket", "left").orderBy("_order")
    return joined.select(
        *[
            F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c)
            if c in ("n_events", "n_sessions")
            else F.coalesce(F.col(c), F.lit(True)).alias(c)
            if c == "low_support"
            else F.col(c)
            for c in POSITION_COLUMNS
        ]
    )


def _stores(ev: Any, stats: Any, stores: Any) -> Any:
    """Store rows with their most frequent name; a store dimension adds attributes."""
    from pyspark.sql import functions as F

    with_store = ev.filter(F.col("store_id").isNotNull())
    table = stats.join(_most_frequent(with_store, "store_id", "store_name"), "store_id", "left")
    table = table.select(*STORE_COLUMNS)
    if stores is None:
        return table
    if "store_id" not in stores.columns:
        raise MissingColumnError(
            f"the stores dimension lacks column 'store_id'; it holds {stores.columns}."
        )
    repeated = stores.groupBy("store_id").count().filter("count > 1").limit(5).collect()
    if repeated:
        raise DataError(
            "the stores dimension repeats store_id values; it must hold one row per store. "
            f"First ones: {[r['store_id'] for r in repeated]}"
        )
    attributes = [c for c in stores.columns if c not in ("store_id", "store_name")]
    clashes = [c for c in attributes if c in STORE_COLUMNS]
    if clashes:
        raise DataError(
            f"the stores dimension has column(s) {clashes} that the store table already defines; "
            "rename them in the dimension (e.g. with a 'store_' prefix)."
        )
    renamed = stores.select(
        F.col("store_id").cast("string").alias("store_id"),
        *([F.col("store_name").alias("_dim_name")] if "store_name" in stores.columns else []),
        *attributes,
    )
    table = table.join(F.broadcast(renamed), "store_id", "left")
    if "store_name" in stores.columns:
        table = table.withColumn("store_name", F.coalesce("store_name", "_dim_name")).drop(
            "_dim_name"
        )
    return table.select(*STORE_COLUMNS, *attributes)
