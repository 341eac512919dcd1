"""Open event sources: files (CSV, Parquet, JSON lines, nested or flat), frames and SQL queries.

Each opener returns a :class:`Source`: a label for messages, the column names, and a loader that
reads only the columns asked for, so a wide export is never read whole. A path may name one file,
a folder of files or a glob pattern (``events/*.parquet``, ``part-*.csv.gz``): the files of a
partitioned export are read as one log, in sorted path order, skipping hidden and ``_``-prefixed
files (``_SUCCESS``). CSV and JSON lines may be gzip- or Zstandard-compressed; their parsing, and
what happens to malformed lines, lives in :mod:`eventlift.data.textfiles`. CSV columns are read
as text, so ids such as ``"007"`` keep their leading zeros. JSON lines may be nested (``[input]
nested_events``): one object per line holding a list of event objects, whose outer fields are
repeated onto each event (:mod:`eventlift.data.nested`). A query runs against a DuckDB file, or
against any SQLAlchemy URL (streamed in batches, read once), through
:mod:`eventlift.data.warehouse`.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from eventlift.config import InputConfig
from eventlift.data.nested import flatten_events
from eventlift.data.row_origins import Part, RowLocator, locate_in_parts
from eventlift.data.textfiles import (
    LineFaults,
    csv_header,
    csv_row_lines,
    detect_delimiter,
    read_csv_table,
    read_json_lines,
)
from eventlift.exceptions import (
    ConfigError,
    DataError,
    MissingColumnError,
    found_columns,
)

__all__ = ["Source", "open_file", "open_source"]


_FORMATS_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_COMPRESSED = (".gz", ".zst", ".zstd")
_DELIMITER_NAMES = {";": "';'", "\t": "tabs", "|": "'|'"}


@dataclass(frozen=True)
class Source:
    """An opened input: its label for messages, its column names, and how to load columns.

    ``load(columns, text, categorical)`` returns a frame holding at least ``columns`` (all when
    None); formats without column types (CSV) read the names in ``text`` as text and infer the
    others. Text columns named in ``categorical`` come back as pandas categoricals where the
    format allows (Parquet reads them dictionary-encoded, never holding every value as a string;
    Arrow tables encode them before conversion). ``files`` counts the files read, ``notes``
    holds one sentence per decision made for the user (a detected delimiter, files combined) and
    ``faults`` the malformed lines skipped, filled in as the files are read. ``locate`` names
    where loaded rows (0-based positions) sit in the files, ``"line 17"`` or ``"part-2.csv, line
    17"``, for messages about single rows; None for frames, queries and one Parquet file, whose
    positions are their row numbers.
    """

    label: str
    columns: list
    load: Callable[..., pd.DataFrame]
    files: int = 0
    notes: list[str] = field(default_factory=list)
    faults: LineFaults = field(default_factory=LineFaults)
    locate: RowLocator | None = None


def open_source(
    source: str | Path | pd.DataFrame | pa.Table | None,
    config: InputConfig,
    *,
    max_rows: int | None = None,
) -> Source:
    """Dispatch on the kind of source; flatten nested events when configured.

    ``max_rows`` makes files load only their first rows (a sample, as ``eventlift init`` reads);
    frames and query results are taken as given (a sample query carries its own ``LIMIT``).
    """
    nested = config.nested_events
    options = {
        "on_bad_lines": config.on_bad_lines,
        "delimiter": config.delimiter,
        "max_rows": max_rows,
    }
    if source is None:
        if config.query:
            opened = _query_source(config)
        elif config.path:
            return open_file(Path(config.path), config.format, nested, **options)
        else:
            raise ConfigError(
                "no events to read: pass a file path or a DataFrame, or set [input] path = "
                '"events.parquet" (or query and database) in the config.'
            )
    elif isinstance(source, pd.DataFrame):
        opened = _frame_source(source, "<DataFrame>")
    elif isinstance(source, pa.Table):
        opened = _arrow_source(source, "<Arrow table>")
    elif isinstance(source, str | os.PathLike):
        return open_file(Path(source), config.format, nested, **options)
    else:
        raise DataError(
            f"cannot read events from a {type(source).__name__}: pass a file path, a pandas "
            f"DataFrame, a pyarrow Table, or None to read [input] from the config."
        )
    return _flattened(opened, nested) if nested else opened


def _flattened(opened: Source, field: str) -> Source:
    """A source whose rows hold lists of events, turned into one row per event."""
    records = opened.load(None, set()).to_dict("records")
    frame = flatten_events(enumerate(records), field, opened.label, "row")
    return dataclasses.replace(opened, columns=list(frame.columns), load=_frame_loader(frame))


def _frame_loader(frame: pd.DataFrame) -> Callable[..., pd.DataFrame]:
    return lambda columns, text, categorical=(): frame


def _frame_source(frame: pd.DataFrame, label: str) -> Source:
    return Source(label, list(frame.columns), _frame_loader(frame))


def _arrow_source(table: pa.Table, label: str) -> Source:
    def load(columns: list | None, text: set[str], categorical: Iterable[str] = ()) -> pd.DataFrame:
        try:
            chosen = table if columns is None else table.select(columns)
            for name in set(categorical) & set(chosen.column_names):
                column = chosen.column(name)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    index = chosen.column_names.index(name)
                    chosen = chosen.set_column(index, name, pc.dictionary_encode(column))
            return chosen.to_pandas()
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"{label}: cannot convert to pandas ({exc}).") from None

    return Source(label, list(table.column_names), load)


def open_file(
    path: Path,
    fmt: str,
    nested: str | None = None,
    key: str = "path",
    *,
    on_bad_lines: str = "error",
    delimiter: str | None = None,
    max_rows: int | None = None,
) -> Source:
    """Open a file, a folder of files or a glob pattern without reading more than headers.

    ``key`` is the ``[input]`` key that named the path, for the message when nothing is there;
    ``on_bad_lines`` ("error" or "skip") and ``delimiter`` (None: detected) apply to CSV and
    JSON lines; with ``max_rows`` only the first rows are read, from the first files.
    """
    label = str(path)
    fmt, paths = _common_format(_expand(path, key), fmt, label)
    if len(paths) > 1:
        paths = [p for p in paths if p.stat().st_size > 0] or paths[:1]  # empty parts hold nothing
    if paths[0].stat().st_size == 0:
        raise DataError(f"{paths[0]}: the file is empty (0 bytes). Fix: export the events again.")
    notes = []
    if len(paths) > 1:
        notes.append(
            f"{label}: read {len(paths)} files as one log, in path order ({paths[0].name} to "
            f"{paths[-1].name})."
        )
    faults = LineFaults()
    if fmt == "jsonl":
        frame, parts = _json_frame(paths, nested, label, on_bad_lines, faults, max_rows)
        opened = _frame_source(frame, label)
        if parts:  # flat lines: each row is one line
            opened = dataclasses.replace(
                opened, locate=locate_in_parts(lambda: parts, len(paths) > 1)
            )
    elif fmt == "parquet":
        opened = _parquet_source(paths, label, max_rows)
    else:
        opened = _csv_source(paths, label, delimiter, on_bad_lines, faults, notes, max_rows)
    opened = dataclasses.replace(opened, files=len(paths), notes=notes, faults=faults)
    return _flattened(opened, nested) if nested and fmt != "jsonl" else opened


def _expand(path: Path, key: str) -> list[Path]:
    """The files a path names: itself, a folder's data files, or a pattern's matches, sorted."""
    text = str(path)

    def visible(candidate: Path, base: Path) -> bool:
        parts = candidate.relative_to(base).parts if candidate != base else (candidate.name,)
        return candidate.is_file() and not any(p.startswith((".", "_")) for p in parts)

    if re.search(r"[*?[]", text) and not path.exists():
        matches = sorted(Path(p) for p in glob.glob(text, recursive=True))
        matches = [p for p in matches if visible(p, p.parent)]
        if not matches:
            raise DataError(
                f"{text}: no file matches this pattern. Fix: check [input] {key} (relative "
                f"paths in a config file resolve against the config file's folder)."
            )
        return matches
    if not path.exists():
        raise DataError(
            f"{text}: file does not exist. Fix: check [input] {key} (relative paths in a config "
            f"file resolve against the config file's folder)."
        )
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if visible(p, path))
        if not files:
            raise DataError(f"{text}: the folder holds no files. Fix: check [input] {key}.")
        return files
    return [path]


def _common_format(paths: list[Path], fmt: str, label: str) -> tuple[str, list[Path]]:
    """The one format of ``paths``, and the paths of that format (a folder may hold others)."""
    if fmt != "auto":
        return fmt, paths
    if len(paths) == 1:
        return _detect_format(paths[0]), paths
    formats = {p: _detect_format(p, strict=False) for p in paths}
    found = sorted({f for f in formats.values() if f})
    if len(found) != 1:
        raise DataError(
            f"{label}: the files are not of one format (found {', '.join(found) or 'none'}). "
            f"Fix: point [input] path at files of one format (a glob such as "
            f'"events/*.parquet" selects them), or set [input] format.'
        )
    return found[0], [p for p in paths if formats[p]]


def _detect_format(path: Path, strict: bool = True) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    if suffixes and suffixes[-1] in _FORMATS_BY_SUFFIX:
        return _FORMATS_BY_SUFFIX[suffixes[-1]]
    if not strict:
        return None
    raise DataError(
        f"{path}: cannot tell the format from the suffix {path.suffix!r}. Fix: use .csv, "
        f'.parquet or .jsonl, or set [input] format = "csv", "parquet" or "jsonl".'
    )


def _csv_source(
    paths: list[Path],
    label: str,
    delimiter: str | None,
    on_bad_lines: str,
    faults: LineFaults,
    notes: list[str],
    max_rows: int | None = None,
) -> Source:
    """CSV files through Arrow: headers now, columns on demand; ``text`` columns stay text."""
    separators = {path: delimiter or detect_delimiter(path) for path in paths}
    detected = sorted(set(separators.values()) - {","}) if delimiter is None else []
    if detected:
        shown = " and ".join(_DELIMITER_NAMES.get(d, repr(d)) for d in detected)
        notes.append(
            f"{label}: fields separated by {shown} (detected from the header; set [input] "
            f"delimiter to override)."
        )
    names = csv_header(paths[0], separators[paths[0]])
    parts: list[Part] = []

    def lines_of(path: Path, rows: int) -> Callable[[], list[int] | None]:
        def lines() -> list[int] | None:
            skipped = faults.known_lines(path)
            return None if skipped is None else csv_row_lines(path, rows, skipped)

        return lines

    def load(columns: list | None, text: set[str], categorical: Iterable[str] = ()) -> pd.DataFrame:
        tables = []
        parts.clear()
        for path in paths:
            left = None if max_rows is None else max_rows - sum(t.num_rows for t in tables)
            if left is not None and left <= 0:
                break
            header = names if path == paths[0] else csv_header(path, separators[path])
            missing = [c for c in columns or [] if c not in header]
            if missing:
                raise MissingColumnError(
                    f"{path}: this part of {label} lacks the column(s) "
                    f"{', '.join(map(repr, missing))}. {found_columns(header)} Fix: export every "
                    f"part with the same columns."
                )
            table = read_csv_table(
                path,
                columns,
                text,
                delimiter=separators[path],
                on_bad_lines=on_bad_lines,
                faults=faults,
                max_rows=left,
            )
            tables.append(table)
            parts.append((path, table.num_rows, lines_of(path, table.num_rows)))
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"{label}: the parts do not combine into one table ({exc}).") from None
        return _arrow_source(table, label).load(None, text, categorical)

    return Source(label, names, load, locate=locate_in_parts(lambda: parts, len(paths) > 1))


def _parquet_source(paths: list[Path], label: str, max_rows: int | None = None) -> Source:
    files = [str(path) for path in paths]
    try:
        dataset = pads.dataset(files, format="parquet")
        names = list(dataset.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{label}: cannot read as Parquet ({exc}). Fix: export the file again, or set "
            f"[input] format if it is not Parquet."
        ) from None

    def load(columns: list | None, text: set[str], categorical: Iterable[str] = ()) -> pd.DataFrame:
        chosen = dataset
        if categorical:  # text columns straight into dictionary arrays
            options = pads.ParquetFileFormat(read_options={"dictionary_columns": list(categorical)})
            chosen = pads.dataset(files, format=options)
        try:
            if max_rows is None:
                table = chosen.to_table(columns=columns)
            else:  # reads the first row groups only
                table = chosen.head(max_rows, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{label}: cannot read the Parquet data ({exc}).") from None
        return _arrow_source(table, label).load(None, text, categorical)

    def parts() -> list[Part]:  # rows per file from the footers, read when a row is named
        counts = (pq.ParquetFile(path).metadata.num_rows for path in paths)
        return [(path, rows, lambda: None) for path, rows in zip(paths, counts, strict=True)]

    locate = locate_in_parts(parts, several=True) if len(paths) > 1 else None
    return Source(label, names, load, locate=locate)


def _json_frame(
    paths: list[Path],
    nested: str | None,
    label: str,
    on_bad_lines: str,
    faults: LineFaults,
    max_rows: int | None = None,
) -> tuple[pd.DataFrame, list[Part]]:
    """The JSON lines files as one frame (flattened when nested), and for flat files the parts
    with each row's line; nested records name their file and line in their own messages."""
    records: list[tuple[object, dict]] = []
    parts: list[Part] = []
    for path in paths:
        left = None if max_rows is None else max_rows - len(records)
        if left is not None and left <= 0:
            break
        lines = read_json_lines(path, on_bad_lines=on_bad_lines, faults=faults, max_rows=left)
        where = (lambda n: n) if len(paths) == 1 else (lambda n, p=path: f"{p}:{n}")
        records.extend((where(number), record) for number, record in lines)
        numbers = [number for number, _ in lines]
        parts.append((path, len(numbers), lambda numbers=numbers: numbers))
    if nested:
        return flatten_events(records, nested, label, "line"), []
    return pd.DataFrame.from_records([record for _, record in records]), parts


def _query_source(config: InputConfig) -> Source:
    """``[input] query`` against a DuckDB file (or ``duckdb:///``), else any SQLAlchemy URL."""
    from eventlift.core.sql import duckdb_file
    from eventlift.data.warehouse import query_label, read_duckdb, read_query

    database, query = config.database or "", config.query or ""
    if duckdb_file(database) is not None:
        table, label = read_duckdb(query, database)
        return _arrow_source(table, label)
    table = read_query(database, query, fetch_rows=config.fetch_rows)
    return _arrow_source(table, query_label(database))
