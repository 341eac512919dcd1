"""Write an event frame the way real exports look: awkward timestamps, encodings and damage.

Readers are only as good as the files they were tried on. :func:`write_export` turns a clean event
frame (such as :func:`eventlift.data.synthetic.generate_events` returns: ``session_id, user_id,
timestamp`` naive UTC, ``event, event_category, store_id, store_name``) into the files that
analytics tools, warehouses and partial downloads actually produce, so that every test and
benchmark makes its awkward inputs from one place. Output is deterministic: the same frame and
options give the same bytes (gzip headers carry no time stamp).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["TIMESTAMP_STYLES", "event_codes", "id_numbers", "write_export"]

TIMESTAMP_STYLES = (
    "iso", "iso_z", "offset", "zone_name", "iana", "mixed_zones", "naive",
    "epoch_s", "epoch_ms", "epoch_us", "epoch_ns",
)  # fmt: skip
_ID_COLUMNS = ("session_id", "user_id", "store_id")
_OFFSETS = ("+02:00", "-05:00", "+05:30")  # device offsets of a mobile app's events
_MIXED = ("Z", "+05:30", " GMT", " America/New_York")  # four systems feeding one column
_EPOCH_SCALE = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1, "epoch_ns": 1}
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
}
_COMPRESSIONS = {".gz": "gz", ".zst": "zst"}


def write_export(
    events: pd.DataFrame,
    path: str | Path,
    *,
    fmt: str | None = None,
    timestamps: str = "iso",
    zone: str | None = None,
    delimiter: str = ",",
    bom: bool = False,
    crlf: bool = False,
    compression: str | None = None,
    parts: int = 1,
    float_ids: bool = False,
    numeric_events: bool = False,
    drop: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    cut_last_line: bool = False,
    ragged_lines: Iterable[int] = (),
    bad_utf8_lines: Iterable[int] = (),
    broken_json_lines: Iterable[int] = (),
) -> list[Path]:
    """Write ``events`` as one export file, or a folder of parts; return the paths written.

    Parameters
    ----------
    events : pandas.DataFrame
        Events with a naive UTC ``timestamp`` column; other columns are written as they are.
    path : str or Path
        The file; with ``parts > 1`` the folder, holding ``part-00000.csv.gz``-style files.
    fmt : {"csv", "jsonl", "parquet"} or None
        None: from the suffix (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``, before any ``.gz``
        or ``.zst``), CSV for a folder of parts.
    timestamps : str
        ``"iso"`` ``2019-10-01T00:00:00+00:00`` (Python's ``isoformat``, PostgreSQL dumps);
        ``"iso_z"`` ``2019-10-01T00:00:00Z`` (JavaScript, BigQuery JSON); ``"offset"`` local
        times with each row's device offset (``+02:00``, ``-05:00``, ``+05:30`` in turn, mobile
        app logs); ``"zone_name"`` ``2019-10-01 00:00:00 UTC`` (the zone name after the time, as
        several analytics exports write it); ``"iana"`` local time then the zone's IANA name,
        ``2024-03-01 10:00:00 Europe/Berlin``; ``"mixed_zones"`` rows in turn ``Z``, ``+05:30``,
        `` GMT`` and `` America/New_York`` (several systems feeding one column); ``"naive"``
        wall-clock time without a zone (a database ``TIMESTAMP`` column); ``"epoch_s"`` (whole
        seconds, Unix time as most trackers send it), ``"epoch_ms"``, ``"epoch_us"`` and
        ``"epoch_ns"`` integers. Text keeps milliseconds when any value has a fraction.
    zone : str or None
        The IANA zone of ``"naive"`` (default UTC) and ``"iana"`` (default Europe/Berlin) times:
        a shop system that logs its local time.
    delimiter : str
        The field separator of CSV (``";"`` as spreadsheets in many European locales write it,
        ``"\\t"`` for TSV dumps).
    bom : bool
        Start the file with a UTF-8 byte order mark, as Excel's "CSV UTF-8" does.
    crlf : bool
        End lines with ``\\r\\n``, as Windows tools do.
    compression : {"gz", "zst"} or None
        None: from the file suffix. gzip (most exports) or Zstandard (Spark, Snowflake unloads).
    parts : int
        Split the rows, in order, into this many files: a partitioned export (Spark, BigQuery).
    float_ids : bool
        ``session_id``, ``user_id`` and ``store_id`` become the numbers in them as floats
        (``st249`` -> ``249.0``): integer ids that a null widened to float before export.
    numeric_events : bool
        Event names become their codes (:func:`event_codes`), written alternately ``4`` and
        ``4.0`` in CSV and JSON lines (a log whose codes passed through a float column in part),
        float in Parquet.
    drop, rename
        Columns to leave out, and new names for some columns.
    cut_last_line : bool
        Cut the last line in the middle without a newline, as a partial download leaves it.
    ragged_lines : iterable of int
        1-based file lines (the header is line 1) given an extra field: an unquoted delimiter.
    bad_utf8_lines : iterable of int
        File lines starting with the byte 0xE9 (a Latin-1 "é" in a UTF-8 file).
    broken_json_lines : iterable of int
        JSON lines whose closing brace is lost.

    Line damage applies to the last part only. Parquet takes no text options.
    """
    path = Path(path)
    fmt, compression = _kind(path, fmt, compression, parts)
    frame = _prepared(events, timestamps, zone, float_ids, numeric_events, fmt)
    frame = frame.drop(columns=list(drop)).rename(columns=dict(rename or {}))
    chunks = np.array_split(np.arange(len(frame)), parts)
    if parts > 1:
        path.mkdir(parents=True, exist_ok=True)
        suffix = "." + fmt + ("." + compression if compression else "")
        paths = [path / f"part-{i:05d}{suffix}" for i in range(parts)]
    else:
        paths = [path]
    for number, (target, rows) in enumerate(zip(paths, chunks, strict=True)):
        part = frame.iloc[rows]
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(part, preserve_index=False), target)
            continue
        if fmt == "csv":
            text = part.to_csv(index=False, sep=delimiter, lineterminator="\n")
        else:
            text = part.to_json(orient="records", lines=True, force_ascii=False)
        lines = [line.encode("utf-8") for line in text.splitlines()]
        if number == parts - 1:
            lines = _damaged(lines, delimiter, ragged_lines, bad_utf8_lines, broken_json_lines)
        newline = b"\r\n" if crlf else b"\n"
        data = newline.join(lines) + newline
        if cut_last_line and number == parts - 1:
            data = data[: len(data) - len(newline) - len(lines[-1]) // 2]
        _write_bytes(target, (b"\xef\xbb\xbf" if bom else b"") + data, compression)
    return paths


def event_codes(events: pd.DataFrame) -> dict[str, int]:
    """The code ``numeric_events`` gives each event name: 1, 2, ... in sorted name order."""
    return {name: code for code, name in enumerate(sorted(events["event"].dropna().unique()), 1)}


def id_numbers(values: pd.Series) -> pd.Series:
    """The number in each id (``"st249"`` -> 249), float with NaN for nulls, as ``float_ids``."""
    digits = values.astype("string").str.extract(r"(\d+)", expand=False)
    return pd.to_numeric(digits, errors="coerce").astype("float64")


def _kind(path: Path, fmt: str | None, compression: str | None, parts: int) -> tuple[str, str]:
    """The format and compression: given, else read from the file's suffixes."""
    suffixes = [s.lower() for s in path.suffixes] if parts == 1 else []
    if compression is None and suffixes and suffixes[-1] in _COMPRESSIONS:
        compression = _COMPRESSIONS[suffixes.pop()]
    if fmt is None:
        fmt = _SUFFIXES.get(suffixes[-1], "csv") if suffixes else "csv"
    if fmt == "parquet" and compression:
        raise ValueError("Parquet compresses inside the file: leave compression out.")
    return fmt, compression or ""


def _prepared(
    events: pd.DataFrame,
    timestamps: str,
    zone: str | None,
    float_ids: bool,
    numeric_events: bool,
    fmt: str,
) -> pd.DataFrame:
    """The columns as the exporting system would hold them before writing."""
    frame = events.reset_index(drop=True).copy()
    frame["timestamp"] = _timestamps(frame["timestamp"], timestamps, zone, fmt)
    if float_ids:
        for name in set(_ID_COLUMNS) & set(frame.columns):
            frame[name] = id_numbers(frame[name])
    if numeric_events:
        codes = frame["event"].map(event_codes(frame)).astype("float64")
        if fmt != "parquet":
            whole = [None if np.isnan(c) else int(c) for c in codes]
            codes = pd.Series(
                [c if i % 2 else w for i, (c, w) in enumerate(zip(codes, whole, strict=True))],
                dtype=object,
            )
        frame["event"] = codes
    return frame


def _timestamps(values: pd.Series, style: str, zone: str | None, fmt: str) -> pd.Series:
    """Naive UTC datetimes rendered in one of :data:`TIMESTAMP_STYLES`."""
    if style not in TIMESTAMP_STYLES:
        raise ValueError(f"unknown timestamps style {style!r}; choose from {TIMESTAMP_STYLES}.")
    utc = pd.to_datetime(values).dt.as_unit("us").dt.tz_localize("UTC")
    if style.startswith("epoch_"):
        micros = utc.dt.tz_localize(None).astype("int64")
        if style == "epoch_ns":
            return micros * 1000
        return micros // _EPOCH_SCALE[style]
    if style == "naive" and fmt == "parquet":
        return utc.dt.tz_convert(zone or "UTC").dt.tz_localize(None)
    fraction = bool((utc.dt.microsecond != 0).any())
    clock = "%Y-%m-%d %H:%M:%S.%f" if fraction else "%Y-%m-%d %H:%M:%S"

    def wall(local: pd.Series, sep: str = " ") -> pd.Series:
        text = local.dt.strftime(clock.replace(" ", sep))
        return text.str.slice(0, -3) if fraction else text

    if style in ("iso", "iso_z"):
        return wall(utc, "T") + ("+00:00" if style == "iso" else "Z")
    if style == "zone_name":
        return wall(utc) + " UTC"
    if style in ("naive", "iana"):
        name = zone or ("UTC" if style == "naive" else "Europe/Berlin")
        local = wall(utc.dt.tz_convert(name))
        return local if style == "naive" else local + " " + name
    suffixes = _OFFSETS if style == "offset" else _MIXED
    result = pd.Series(index=values.index, dtype=object)
    for index, suffix in enumerate(suffixes):
        rows = np.arange(len(values)) % len(suffixes) == index
        text = suffix.strip()
        local = utc[rows]
        if re.fullmatch(r"[+-]\d\d:\d\d", text):
            sign = 1 if text[0] == "+" else -1
            shift = pd.Timedelta(hours=int(text[1:3]), minutes=int(text[4:]))
            local = local + sign * shift
        elif "/" in text:
            local = local.dt.tz_convert(text)
        result[rows] = wall(local, "T" if style == "offset" or text == "Z" else " ") + suffix
    return result


def _damaged(
    lines: list[bytes],
    delimiter: str,
    ragged: Iterable[int],
    bad_utf8: Iterable[int],
    broken_json: Iterable[int],
) -> list[bytes]:
    """The lines with the requested faults; numbers are 1-based file lines."""
    lines = list(lines)
    for number in ragged:
        lines[number - 1] += delimiter.encode() + b"extra"
    for number in bad_utf8:
        lines[number - 1] = b"\xe9" + lines[number - 1]
    for number in broken_json:
        lines[number - 1] = lines[number - 1].rstrip(b"}")
    return lines


def _write_bytes(path: Path, data: bytes, compression: str) -> None:
    """Write ``data`` plain, gzip-compressed without a time stamp, or Zstandard-compressed."""
    if compression == "gz":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            out.write(data)
    elif compression == "zst":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    else:
        path.write_bytes(data)
