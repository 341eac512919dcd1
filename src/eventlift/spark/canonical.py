"""Spark input: read a table, a path or a DataFrame and map it onto the canonical event columns.

The result has the columns of :data:`~eventlift.data.schema.CANONICAL_COLUMNS` with two
differences that keep every later step exact and cheap: ``ts_us`` (``long``, microseconds since
the epoch, UTC) replaces ``timestamp``, and ``row_number`` is ``monotonically_increasing_id()``:
increasing in input order (partition by partition), not consecutive, which is all that breaking
ties in time and keeping the first of duplicate rows need.

Timestamps follow :mod:`eventlift.data.timestamps`: ``TIMESTAMP`` columns are instants;
``TIMESTAMP_NTZ`` and ``DATE`` columns are read as UTC; strings are ISO-8601 (a string without an
offset is read in ``spark.sql.session.timeZone``, so set it to ``UTC`` to match the local path);
numbers and digit strings are epoch seconds or milliseconds (``[input] timestamp_unit``; ``auto``
reads milliseconds when the median magnitude exceeds 1e11).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from eventlift.config import Config
from eventlift.data.schema import ROLES, ROW_NUMBER
from eventlift.data.timestamps import ACCEPTED_FORMATS, AUTO_MS_THRESHOLD
from eventlift.exceptions import (
    ConfigError,
    DataError,
    EmptyInputError,
    MissingColumnError,
    TimestampError,
    format_rows,
)

__all__ = ["TS_US", "load_events", "to_canonical"]

logger = logging.getLogger(__name__)

TS_US = "ts_us"
_FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}


def load_events(spark: Any, source: Any, config: Config) -> tuple[Any, str]:
    """Return ``(DataFrame, label)`` for a DataFrame, a catalog table name or a file path.

    Paths read as Parquet, CSV (with a header) or JSON lines from ``[input] format`` or the
    suffix; ``delta`` (a folder with ``_delta_log``) needs ``delta-spark`` on the cluster.
    ``None`` reads ``[input] path``.
    """
    from pyspark.sql import DataFrame

    if isinstance(source, DataFrame):
        return source, "<DataFrame>"
    source = source if source is not None else config.input.path
    if source is None:
        raise ConfigError(
            "no input: pass a DataFrame, a table name or a path, or set [input] path (or "
            "[spark] input_table) in the config."
        )
    text = str(source)
    looks_like_path = "/" in text or "\\" in text or Path(text).suffix.lower() in _FORMATS
    if not looks_like_path:
        if not spark.catalog.tableExists(text):
            raise DataError(
                f"table {text!r} does not exist in the Spark catalog. Fix: give the full name "
                f"(catalog.schema.table) or a path to Parquet, CSV, JSON lines or Delta files."
            )
        return spark.table(text), text
    return _read_path(spark, text, config), text


def _read_path(spark: Any, path: str, config: Config) -> Any:
    local = Path(path)
    is_remote = "://" in path and not path.startswith("file://")
    if not is_remote and not local.exists():
        raise DataError(f"input path {path!r} does not exist.")
    if not is_remote and (local / "_delta_log").is_dir():
        return spark.read.format("delta").load(path)
    fmt = config.input.format
    if fmt == "auto":
        suffix = local.suffix.lower()
        if suffix not in _FORMATS and not is_remote and local.is_dir():
            suffixes = {p.suffix.lower() for p in local.iterdir() if p.suffix}
            suffix = next((s for s in suffixes if s in _FORMATS), suffix)
        if suffix not in _FORMATS:
            raise ConfigError(
                f"{path}: cannot tell the file format from the name; set [input] format to "
                f'"parquet", "csv" or "jsonl".'
            )
        fmt = _FORMATS[suffix]
    if fmt == "csv":
        return spark.read.option("header", True).csv(path)
    if fmt in ("json", "jsonl"):
        return spark.read.json(path)
    return spark.read.parquet(path)


def to_canonical(frame: Any, config: Config, *, source: str = "<DataFrame>") -> Any:
    """Map the configured columns onto the canonical roles; check them and parse timestamps.

    Raises
    ------
    ConfigError
        ``timestamp`` or ``event`` unmapped, or neither ``session_id`` nor ``user_id`` mapped.
    MissingColumnError
        A mapped column is not in the input.
    EmptyInputError
        The input has no rows.
    TimestampError
        Null or unparseable timestamps (the first rows are shown).
    """
    from pyspark.sql import functions as F

    columns = config.columns
    mapping = {role: getattr(columns, role) for role in ROLES if getattr(columns, role)}
    for role in ("timestamp", "event"):
        if role not in mapping:
            raise ConfigError(f"[columns] {role} must name a column of the input.")
    if "session_id" not in mapping and "user_id" not in mapping:
        raise ConfigError(
            "[columns] map session_id, or user_id to derive sessions by inactivity gap."
        )
    present = set(frame.columns)
    missing = {role: name for role, name in mapping.items() if name not in present}
    if missing:
        raise MissingColumnError(
            f"{source}: mapped column(s) {missing} are not in the input; it has columns "
            f"{sorted(present)}. Fix: correct [columns] or the input."
        )
    if not frame.take(1):
        raise EmptyInputError(f"{source}: the input holds no events.")
    types = dict(frame.dtypes)
    selected = [frame[mapping["timestamp"]].alias("_ts_raw")]
    for role in ROLES:
        if role == "timestamp":
            continue
        if role in mapping:
            selected.append(_as_string(F.col(f"`{mapping[role]}`"), types[mapping[role]], role))
        else:
            selected.append(F.lit(None).cast("string").alias(role))
    staged = frame.select(*selected).withColumn(ROW_NUMBER, F.monotonically_increasing_id())
    ts = _parse_ts(staged, types[mapping["timestamp"]], config.input.timestamp_unit)
    staged = staged.withColumn(TS_US, ts)
    bad = staged.filter(F.col(TS_US).isNull()).limit(5).collect()
    if bad:
        rows = [{"row": r[ROW_NUMBER], mapping["timestamp"]: r["_ts_raw"]} for r in bad]
        raise TimestampError(
            f"{source}: column {mapping['timestamp']!r} has null or unparseable timestamps "
            f"(type {types[mapping['timestamp']]}). First ones:\n{format_rows(rows)}\n"
            f"{ACCEPTED_FORMATS}"
        )
    return staged.select(*[r for r in ROLES if r != "timestamp"], TS_US, ROW_NUMBER)


def _as_string(column: Any, dtype: str, role: str) -> Any:
    """Text ids as the local reader makes them: integral floats print without ``.0``."""
    from pyspark.sql import functions as F

    if dtype in ("double", "float") or dtype.startswith("decimal"):
        integral = column == F.floor(column)
        column = F.when(integral, column.cast("long").cast("string")).otherwise(
            column.cast("string")
        )
    return column.cast("string").alias(role)


def _parse_ts(frame: Any, dtype: str, unit: str) -> Any:
    """Microseconds since the epoch (UTC) as ``long``; null where the value does not parse."""
    from pyspark.sql import functions as F

    raw = F.col("_ts_raw")
    if dtype == "timestamp":
        return F.unix_micros(raw)
    if dtype in ("timestamp_ntz", "date"):
        return F.expr(
            "timestampdiff(MICROSECOND, TIMESTAMP_NTZ'1970-01-01 00:00:00', "
            "cast(_ts_raw AS timestamp_ntz))"
        )
    number = F.expr("try_cast(_ts_raw AS double)")
    if dtype != "string" and not _is_number(dtype):
        raise TimestampError(
            f"timestamp column of type {dtype} is not supported. {ACCEPTED_FORMATS}"
        )
    has_numbers = frame.filter(number.isNotNull()).take(1)
    epoch = None
    if has_numbers:
        if unit == "auto":
            median = frame.select(F.percentile_approx(F.abs(number), 0.5, 10_000)).first()[0]
            unit = "ms" if median is not None and median > AUTO_MS_THRESHOLD else "s"
        scale = 1_000_000 if unit == "s" else 1_000
        whole = F.expr("try_cast(_ts_raw AS long)")
        epoch = F.when(whole.isNotNull() & (number == whole), whole * F.lit(scale)).otherwise(
            F.round(number * F.lit(float(scale))).cast("long")
        )
        logger.info("epoch timestamps read in unit %s", unit)
    if _is_number(dtype):
        return epoch
    text = F.unix_micros(F.expr("try_cast(_ts_raw AS timestamp)"))
    return text if epoch is None else F.coalesce(epoch, text)


def _is_number(dtype: str) -> bool:
    return dtype in ("tinyint", "smallint", "int", "bigint", "float", "double") or dtype.startswith(
        "decimal"
    )
