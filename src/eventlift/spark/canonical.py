"""Spark input: read a table, a path or a DataFrame and map it onto the canonical event columns.

The result has the columns of :data:`~eventlift.data.schema.CANONICAL_COLUMNS` with two
differences that keep every later step exact and cheap: ``ts_us`` (``long``, microseconds since
the epoch, UTC) replaces ``timestamp``, and ``row_number`` is ``monotonically_increasing_id()``:
increasing in input order (partition by partition), not consecutive, which is all that breaking
ties in time and keeping the first of duplicate rows need. When ``[input] on_bad_lines = "skip"``
lets malformed lines of a file go, the frame still holds them, flagged by the boolean column
:data:`MALFORMED`, whose metadata holds their count and first line numbers, so that
:func:`eventlift.spark.prepare.prepare_sessions` drops them and reports them as the local run
does (``dropped_rows.malformed_lines``, ``malformed_line_numbers``).

Values are read by the local reader's own code, run on each Arrow batch with ``mapInPandas``:
text roles through its text rule (``eventlift.data.readers.as_text``: ``266079.0`` and
``4.0`` read ``"266079"`` and ``"4"``), event times through
:func:`eventlift.data.timestamps.parse_timestamps` (zone names, offsets, ``[input] timezone``,
epoch units). What must be decided for a whole column is decided once, before that pass, so
that every partition reads alike: the epoch unit of ``timestamp_unit = "auto"`` (the local rule
applied to the column's approximate median magnitude) and whether a text column is all integers.
``TIMESTAMP`` columns are instants and stay native. Files are opened by
:mod:`eventlift.spark.files`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from eventlift.config import DEFAULT_SESSION_COLUMN, Config
from eventlift.data.schema import ROLES, ROW_NUMBER
from eventlift.data.timestamps import ACCEPTED_FORMATS, resolve_epoch_unit
from eventlift.exceptions import (
    ConfigError,
    EmptyInputError,
    MissingColumnError,
    TimestampError,
    format_rows,
)
from eventlift.spark.files import (
    CORRUPT,
    SOURCE_FILE,
    malformed_error,
    malformed_lines,
    read_input,
    spark_failure,
)

__all__ = ["MALFORMED", "TS_US", "load_events", "to_canonical"]

logger = logging.getLogger(__name__)

TS_US = "ts_us"
MALFORMED = "malformed_line"
_TEXT_ROLES = tuple(role for role in ROLES if role != "timestamp")
_NATIVE = "_ts_native"  # TIMESTAMP columns, already microseconds
_BAD_TS = "_ts_bad"  # the raw text of a timestamp that does not parse, else null
_LISTED_LINES = 10  # skipped line numbers in the run summary, as the local read report lists
_NUMBER_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
_SCHEMA = ", ".join(
    [*(f"{role} string" for role in _TEXT_ROLES), f"{TS_US} long", f"{ROW_NUMBER} long",
     f"{MALFORMED} boolean", f"{_BAD_TS} string"]
)  # fmt: skip


def load_events(spark: Any, source: Any, config: Config) -> tuple[Any, str]:
    """Return ``(DataFrame, label)`` for a DataFrame, a catalog table name or a path.

    A path (a file, a folder of parts or a glob such as ``events/part-*.csv.gz``) is read as
    :func:`eventlift.spark.files.read_input` describes; ``None`` reads ``[input] path``.
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
    return read_input(spark, str(source), config.input), str(source)


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
    DataError
        Malformed lines in a file read with ``[input] on_bad_lines = "error"``.
    TimestampError
        Null or unparseable timestamps (the first rows are shown).
    """
    from pyspark.sql import functions as F

    mapping = _mapping(config, frame.columns, source)
    column, types = mapping["timestamp"], dict(frame.dtypes)
    ts_type = types[column]
    if ts_type not in ("timestamp", "timestamp_ntz", "date", "string") and not _is_number(ts_type):
        raise TimestampError(
            f"{source}: timestamp column {column!r} has type {ts_type}, which is not "
            f"supported. {ACCEPTED_FORMATS}"
        )
    files = CORRUPT in frame.columns
    staged = frame.select(
        *[F.col(f"`{name}`").alias(f"_{role}") for role, name in mapping.items()],
        (F.col(CORRUPT).isNotNull() if files else F.lit(False)).alias(MALFORMED),
        *([CORRUPT, SOURCE_FILE] if files else []),
    ).withColumn(ROW_NUMBER, F.monotonically_increasing_id())
    if ts_type == "timestamp":
        staged = staged.withColumn(_NATIVE, F.unix_micros("_timestamp"))
    unit = config.input.timestamp_unit
    epochs = unit == "auto" and (ts_type == "string" or _is_number(ts_type))
    strings = [r for r, name in mapping.items() if r != "timestamp" and types[name] == "string"]
    try:
        profile = _profile(staged, strings, epochs)
    except Exception as exc:  # the first pass over the files: codecs, permissions, damage
        raise spark_failure(source, exc) from None
    if not profile["rows"]:
        raise EmptyInputError(f"{source}: the input holds no events.")
    if profile["malformed"] and config.input.on_bad_lines != "skip":
        raise malformed_error(staged, source)
    if epochs:
        unit = _epoch_unit(profile["median"], column)
    integral = _integral_columns(staged, [role for role in strings if profile[role]])
    canonical = staged.mapInPandas(
        _normaliser(mapping, integral, unit, config.input.timezone, source), _SCHEMA
    )
    _check_timestamps(canonical, column, ts_type, unit, source)
    flagged = []  # counted by prepare_sessions, from the column's metadata
    if profile["malformed"]:
        report = {"lines": profile["malformed"], "numbers": _line_labels(frame, staged, source)}
        flagged.append(F.col(MALFORMED).alias(MALFORMED, metadata=report))
    return canonical.select(*_TEXT_ROLES, TS_US, ROW_NUMBER, *flagged)


def _line_labels(frame: Any, staged: Any, source: str) -> list[str]:
    """The first skipped lines as the local read report lists them: ``"line N"`` for one
    file, ``"path:N"`` for several (paths written as ``source`` writes them)."""
    located = malformed_lines(staged, _LISTED_LINES)
    if len(frame.inputFiles()) == 1:
        return [f"line {row['line']}" for row in located]
    return [f"{_local_path(row['file'], source)}:{row['line']}" for row in located]


def _local_path(uri: str, source: str) -> str:
    """A ``file:`` URI as a path, relative when the configured ``source`` is."""
    if not uri.startswith("file:"):
        return uri
    path = unquote(urlparse(uri).path)
    return path if Path(source).is_absolute() or "://" in source else os.path.relpath(path)


def _profile(staged: Any, strings: list[str], epochs: bool) -> Any:
    """One pass for what the whole input decides: rows, malformed lines, the median epoch
    magnitude (when ``epochs``), and for each text role in ``strings`` whether any value holds
    a ``.`` (only those can be integers written ``"4.0"``)."""
    from pyspark.sql import functions as F

    kept = ~F.col(MALFORMED)
    stats = [F.count("*").alias("rows"), F.sum(F.col(MALFORMED).cast("long")).alias("malformed")]
    if epochs:
        number = F.abs(F.expr("try_cast(_timestamp AS double)"))
        stats.append(F.percentile_approx(F.when(kept, number), 0.5, 100_000).alias("median"))
    stats += [F.max(F.when(kept, F.col(f"_{r}").contains("."))).alias(r) for r in strings]
    return staged.select(*stats).first()


def _epoch_unit(median: float | None, column: str) -> str:
    """The epoch unit ``"auto"`` gives the column, decided once from its median magnitude.

    The local rule (:func:`~eventlift.data.timestamps.resolve_epoch_unit`) is applied to the
    approximate median of the numbers in the column (text that is not a number does not count);
    the unit bands span decades, so the approximation cannot change the unit of a real log.
    Returns ``"auto"`` when the column holds no numbers.
    """
    if median is None:
        return "auto"
    unit = resolve_epoch_unit(np.array([median]), "auto")
    logger.info(
        "timestamp column %r: epoch numbers read in unit %r (detected by magnitude; set "
        "[input] timestamp_unit to override).",
        column,
        unit,
    )
    return unit


def _mapping(config: Config, present: list[str], source: str) -> dict[str, str]:
    """Role -> input column, with a left-out ``session_id`` settled against the input."""
    columns = config.columns.resolve(DEFAULT_SESSION_COLUMN in present)
    mapping = {role: getattr(columns, role) for role in ROLES if getattr(columns, role)}
    for role in ("timestamp", "event"):
        if role not in mapping:
            raise ConfigError(f"[columns] {role} must name a column of the input.")
    if "session_id" not in mapping and "user_id" not in mapping:
        raise ConfigError(
            "[columns] map session_id, or user_id to derive sessions by inactivity gap."
        )
    missing = {role: name for role, name in mapping.items() if name not in set(present)}
    if missing:
        raise MissingColumnError(
            f"{source}: mapped column(s) {missing} are not in the input; it has columns "
            f"{sorted(c for c in present if c != CORRUPT)}. Fix: correct [columns] or the input."
        )
    return mapping


def _integral_columns(staged: Any, candidates: list[str]) -> dict[str, bool]:
    """Per text role, whether the local reader's whole-column integer rule holds for it.

    The local reader (``eventlift.data.readers.as_text``) writes ``"4.0"`` as ``"4"`` only
    when every value of the column is an integer; a batch sees part of a column, so the rule is
    decided here for the whole column by asking the local code about each batch. Only the
    ``candidates`` (text roles with a ``.`` in some value) need asking: elsewhere the rule
    changes nothing.
    """
    from pyspark.sql import functions as F

    if not candidates:
        return {}
    kept = staged.filter(~F.col(MALFORMED))  # the local reader never sees malformed lines

    def integral(batches):
        for batch in batches:
            yield pd.DataFrame({r: [_is_integral(batch[f"_{r}"])] for r in candidates})

    schema = ", ".join(f"{role} boolean" for role in candidates)
    found = kept.select(*[f"_{r}" for r in candidates]).mapInPandas(integral, schema)
    verdict = found.select(*[F.min(F.col(r).cast("int")).alias(r) for r in candidates]).first()
    return {role: verdict[role] == 1 for role in candidates}


def _is_integral(values: pd.Series) -> bool:
    """Whether the local reader would read this batch's text as integers."""
    from eventlift.data.readers import as_text, is_integral_text

    return is_integral_text(as_text(values, integral=False))


def _batch_text(values: pd.Series, integral: bool) -> np.ndarray:
    """The local reader's text of one batch, under the whole column's integer rule."""
    from eventlift.data.readers import as_text

    return as_text(values, integral=integral).to_numpy(dtype=object, na_value=None)


def _normaliser(
    mapping: dict[str, str], integral: dict[str, bool], unit: str, timezone: str | None,
    source: str,
) -> Any:  # fmt: skip
    """The ``mapInPandas`` function: each batch's values read by the local reader's code."""
    column = mapping["timestamp"]

    def normalise(batches):
        for batch in batches:
            n = len(batch)
            out = {}
            for role in _TEXT_ROLES:
                if role in mapping:
                    out[role] = _batch_text(batch[f"_{role}"], integral.get(role, False))
                else:
                    out[role] = np.full(n, None, dtype=object)
            bad = batch[MALFORMED].to_numpy(dtype=bool)
            if _NATIVE in batch.columns:
                micros, failed = batch[_NATIVE].astype("Int64"), np.zeros(n, dtype=bool)
            else:
                micros, failed = _micros(batch["_timestamp"], ~bad, column, unit, timezone, source)
            out[TS_US] = micros
            out[ROW_NUMBER] = batch[ROW_NUMBER]
            out[MALFORMED] = bad
            raw = batch["_timestamp"].astype(object).where(failed, None)
            out[_BAD_TS] = [None if value is None else str(value) for value in raw]
            yield pd.DataFrame(out)

    return normalise


def _micros(
    values: pd.Series, wanted: np.ndarray, column: str, unit: str, timezone: str | None, source: str
) -> tuple[pd.Series, np.ndarray]:
    """Microseconds since the epoch of the ``wanted`` rows (null elsewhere), and which failed.

    A batch holding a bad value is parsed again value by value, so that the driver can name the
    offending rows; good batches, the usual case, are parsed in one call.
    """
    from eventlift.data.timestamps import parse_timestamps

    def parse(chosen: pd.Series) -> np.ndarray:
        return parse_timestamps(
            chosen, column=column, unit=unit, source=source, timezone=timezone
        ).to_numpy()

    result = np.full(len(values), np.datetime64("NaT", "us"))  # (n,)
    chosen = values[wanted]
    try:
        result[wanted] = parse(chosen)
    except TimestampError:
        for index in np.flatnonzero(wanted):
            with contextlib.suppress(TimestampError):  # stays NaT: reported by the driver
                result[index] = parse(values.iloc[[index]])[0]
    failed = wanted & np.isnat(result)
    micros = pd.Series(result.astype("datetime64[us]").astype(np.int64), dtype="Int64")
    return micros.mask(np.isnat(result)), failed


def _check_timestamps(canonical: Any, column: str, dtype: str, unit: str, source: str) -> None:
    """Raise TimestampError for the first rows whose time is null or does not parse."""
    from pyspark.sql import functions as F

    failed = F.col(TS_US).isNull() & ~F.col(MALFORMED)
    bad = canonical.filter(failed).select(ROW_NUMBER, _BAD_TS).limit(5).collect()
    if not bad:
        return
    rows = [{"row": r[ROW_NUMBER], column: r[_BAD_TS]} for r in bad]
    unit_note = f" Epoch numbers were read in unit {unit!r}." if unit != "auto" else ""
    raise TimestampError(
        f"{source}: column {column!r} has null or unparseable timestamps (type {dtype}). First "
        f"ones (row is Spark's row id, in input order):\n{format_rows(rows)}\n"
        f"{ACCEPTED_FORMATS}{unit_note}"
    )


def _is_number(dtype: str) -> bool:
    return dtype in _NUMBER_TYPES or dtype.startswith("decimal")
