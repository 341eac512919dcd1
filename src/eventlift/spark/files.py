"""Spark input files: Parquet, CSV or JSON lines as a file, a folder of parts or a glob.

A partitioned export (``events/``, ``events/part-*.csv.gz``) is read as one log, as the local
reader reads it. CSV files are read with a header and every column as text, as the local reader
reads CSV: ids such as ``"007"`` keep their zeros, and a cell is null where Arrow reads it as
null for the local reader (``""``, ``"NULL"``, ``"NA"``, ``"nan"``...). The delimiter is
``[input] delimiter`` or the one the local reader detects in the first file's header; quoted
fields may hold newlines; a UTF-8 byte order mark and CRLF line ends are handled by Spark's
reader, gzip and Zstandard by Hadoop's codecs (a missing codec is reported with the fix). Delta
folders need ``delta-spark``.

Malformed lines (a wrong number of fields, a JSON line that does not parse, bytes that are not
UTF-8) are found with Spark's ``PERMISSIVE`` mode: the raw text of such a line lands in the
column :data:`CORRUPT`, null on good lines. Spark's decoder turns bytes that are not UTF-8 into
U+FFFD, so a line holding that character counts as malformed too. With ``[input] on_bad_lines
= "error"`` (the default) the run stops with :func:`malformed_error`, which names the files, the
line numbers and the fix; with ``"skip"`` the lines are dropped and counted.
"""

from __future__ import annotations

import glob
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv

from eventlift.config import InputConfig
from eventlift.exceptions import ConfigError, DataError, MalformedLinesError, format_rows

__all__ = [
    "CORRUPT",
    "SOURCE_FILE",
    "malformed_error",
    "malformed_lines",
    "read_input",
    "spark_failure",
]

CORRUPT = "_corrupt_record"
SOURCE_FILE = "_source_file"
_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "jsonl",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_COMPRESSED = (".gz", ".zst", ".bz2")
_REPLACEMENT = "\ufffd"  # what Spark's decoder makes of bytes that are not UTF-8
_SHOWN = 5  # malformed lines named in a message


def read_input(spark: Any, path: str, settings: InputConfig) -> Any:
    """Read a path (file, folder, glob, local or remote) into a DataFrame of its columns.

    A local path is expanded here, as the local reader expands it (hidden and ``_`` files left
    out, in a folder only the files of its one format), and Spark reads those files. CSV and
    JSON lines frames also carry :data:`CORRUPT` (the raw text of a malformed line) and
    :data:`SOURCE_FILE` (the file a row came from); :mod:`eventlift.spark.canonical` uses and
    drops them.
    """
    remote = "://" in path and not path.startswith("file://")
    if not remote and (Path(path.removeprefix("file://")) / "_delta_log").is_dir():
        return spark.read.format("delta").load(path)
    files = [] if remote else _local_files(path)
    fmt = settings.format if settings.format != "auto" else _format(path, files)
    files = [f for f in files if settings.format != "auto" or _suffix_format(f) == fmt]
    scheme = "file://" if path.startswith("file://") else ""
    sources = [scheme + str(file) for file in files] or [path]
    try:
        if fmt == "parquet":
            return spark.read.parquet(*sources)
        if fmt == "csv":
            return _read_csv(spark, sources, settings, files)
        return _read_json(spark, sources)
    except Exception as exc:  # Spark's AnalysisException or a Py4J error: say what to do
        raise spark_failure(path, exc) from None


def _local_files(path: str) -> list[Path]:
    """The files a local path, folder or glob names, sorted; DataError when there are none."""
    local = path.removeprefix("file://")
    matches = sorted(Path(p) for p in glob.glob(local, recursive=True))
    files = []
    for match in matches:
        if match.is_dir():
            files += sorted(p for p in match.rglob("*") if p.is_file() and _visible(p, match))
        elif _visible(match, match.parent):
            files.append(match)
    if not files:
        raise DataError(
            f"input path {path!r} does not exist or holds no files. Fix: check [input] path "
            f"(a file, a folder of parts, or a glob such as 'events/part-*.csv.gz')."
        )
    return files


def _visible(file: Path, base: Path) -> bool:
    """Not hidden and not bookkeeping (``_SUCCESS``, ``_delta_log/``) below ``base``."""
    return not any(part.startswith((".", "_")) for part in file.relative_to(base).parts)


def _suffix_format(file: Path) -> str | None:
    """The format a file's suffixes name (a compression suffix aside), if any."""
    suffixes = [s.lower() for s in file.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    return _FORMATS.get(suffixes[-1]) if suffixes else None


def _format(path: str, files: list[Path]) -> str:
    """The one format the files' suffixes name; files naming none are left out."""
    found = {_suffix_format(file) for file in files or [Path(path.split("?")[0])]} - {None}
    if len(found) != 1:
        raise ConfigError(
            f"{path}: cannot tell the file format from the names"
            + (f" (found {sorted(found)})" if found else "")
            + '; set [input] format to "parquet", "csv" or "jsonl".'
        )
    return found.pop()


def _read_csv(spark: Any, sources: list[str], settings: InputConfig, files: list[Path]) -> Any:
    """Every column as text, malformed lines in :data:`CORRUPT` (Spark's PERMISSIVE mode)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    from eventlift.data.textfiles import csv_header

    delimiter = _delimiter(settings, files)
    reader = (
        spark.read.option("header", True)
        .option("sep", delimiter)
        .option("multiLine", True)  # quoted fields may hold newlines, as the local reader allows
        .option("escape", '"')  # "" inside quotes is a quote (RFC 4180), not \"
        .option("encoding", "UTF-8")
    )
    # the header as the local reader sees it; a remote path's through Spark
    names = csv_header(files[0], delimiter) if files else reader.csv(sources).columns
    schema = StructType([StructField(name, StringType()) for name in [*names, CORRUPT]])
    frame = (
        reader.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(sources)
    )
    # the cells Arrow reads as null for the local reader ("", "NULL", "NA", "nan", ...)
    nulls = pacsv.ConvertOptions().null_values
    frame = frame.select(
        *[F.when(~F.col(f"`{n}`").isin(nulls), F.col(f"`{n}`")).alias(n) for n in names], CORRUPT
    )
    return _with_malformed(frame, names)


def _read_json(spark: Any, sources: list[str]) -> Any:
    """JSON lines with types inferred (as the local reader infers them), bad lines kept aside."""
    from pyspark.sql import functions as F

    frame = (
        spark.read.option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .json(sources)
    )
    if CORRUPT not in frame.columns:
        frame = frame.withColumn(CORRUPT, F.lit(None).cast("string"))
    text = [name for name, dtype in frame.dtypes if dtype == "string" and name != CORRUPT]
    return _with_malformed(frame, text)


def _with_malformed(frame: Any, text_columns: list[str]) -> Any:
    """:data:`CORRUPT` also for lines with U+FFFD in a text column, and :data:`SOURCE_FILE`."""
    from pyspark.sql import functions as F

    replaced = F.lit(False)
    for name in text_columns:
        replaced = replaced | F.coalesce(F.col(f"`{name}`").contains(_REPLACEMENT), F.lit(False))
    line = F.concat_ws(",", *[F.col(f"`{name}`") for name in text_columns])
    corrupt = F.when(F.col(CORRUPT).isNotNull(), F.col(CORRUPT)).when(replaced, line)
    return frame.withColumn(CORRUPT, corrupt).withColumn(SOURCE_FILE, F.col("_metadata.file_path"))


def _delimiter(settings: InputConfig, files: list[Path]) -> str:
    """``[input] delimiter``, else the one the local reader detects in the first file's header.

    A remote path is not opened here: its files are read with ``,`` unless ``[input]
    delimiter`` says otherwise.
    """
    from eventlift.data.textfiles import detect_delimiter

    if settings.delimiter:
        return settings.delimiter
    return detect_delimiter(files[0]) if files else ","


def malformed_error(frame: Any, source: str) -> MalformedLinesError:
    """The DataError naming the first malformed lines of ``frame`` (files, line numbers, fix)."""
    located = malformed_lines(frame, _SHOWN)
    return MalformedLinesError(
        f"{source}: malformed lines (a wrong number of fields, broken JSON or bytes that are not "
        f"UTF-8). First ones:\n{format_rows(located)}\nFix: repair or remove those lines, or set "
        f'[input] on_bad_lines = "skip" to drop and count them.'
    )


def malformed_lines(frame: Any, limit: int) -> list[dict]:
    """The first ``limit`` malformed lines in file order: file, 1-based line number, text.

    Spark does not keep line numbers, so the lines are looked up in the text of their files
    (only the files holding them, only when there are malformed lines).
    """
    from pyspark.sql import functions as F

    spark, bad = frame.sparkSession, frame.filter(F.col(CORRUPT).isNotNull())
    located: list[dict] = []
    for (file,) in sorted(bad.select(SOURCE_FILE).distinct().collect()):
        rows = bad.filter(F.col(SOURCE_FILE) == file).select(CORRUPT).limit(limit).collect()
        texts = frozenset(row[0].splitlines()[0].rstrip("\r") for row in rows if row[0])
        numbered = spark.read.text(file).rdd.map(lambda row: row[0]).zipWithIndex()
        for text, index in numbered.filter(partial(_is_bad_line, texts)).take(limit):
            located.append({"file": file, "line": index + 1, "text": text[:80]})
        if len(located) >= limit:
            break
    return located[:limit]


def _is_bad_line(texts: frozenset, numbered: tuple[str, int]) -> bool:
    """Whether a (line, index) pair is one of the malformed lines' texts, or not UTF-8."""
    return numbered[0] in texts or _REPLACEMENT in numbered[0]


def spark_failure(source: str, exc: Exception) -> DataError:
    """A DataError for what Spark could not open or read, with the fix (never a Py4J trace)."""
    text = str(exc)
    first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
    if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
        return DataError(f"{source}: the input path does not exist. Fix: check [input] path.")
    if "codec" in text.lower() or "zstd" in text.lower() or "ZStandard" in text:
        return DataError(
            f"{source}: Spark cannot decompress these files here ({first}). Fix: install the "
            f"codec on the cluster, decompress the files, or export as Parquet."
        )
    return DataError(f"{source}: Spark cannot read the input ({first}).")
