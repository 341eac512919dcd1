"""Read one CSV or JSON lines file, plain or compressed, naming or skipping its malformed lines.

Real exports arrive gzip- or Zstandard-compressed, with a UTF-8 byte order mark, Windows line
ends, ``;`` or tab as the separator, and now and then a damaged line: a row with too few or too
many fields (a partial download cuts the last one), a broken JSON object, bytes that are not
UTF-8. Arrow parses CSV (it decompresses by suffix and skips the BOM itself) and reports each row
with the wrong field count to a handler; a second, single-threaded pass only over a damaged file
recovers the line numbers. With ``on_bad_lines = "error"`` the first damaged lines are named in a
:class:`~eventlift.exceptions.DataError`; with ``"skip"`` they are dropped and recorded in a
:class:`LineFaults`. Line numbers are 1-based and count the header; they are file lines unless a
quoted value holds line breaks, when Arrow counts records instead.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from eventlift.exceptions import DataError, MalformedLinesError

__all__ = [
    "LineFaults",
    "csv_header",
    "csv_row_lines",
    "detect_delimiter",
    "read_csv_table",
    "read_json_lines",
]

DELIMITERS = (",", ";", "\t", "|")
_SHOWN = 10  # line numbers kept per file for messages and the read report
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, after surrogateescape


@dataclass
class LineFaults:
    """Malformed lines met while reading, per file: how many, and the first (line, detail)s."""

    by_file: dict[str, tuple[int, list[tuple[int | None, str]]]] = field(default_factory=dict)

    def record(self, path: Path, count: int, first: list[tuple[int | None, str]]) -> None:
        """Set the faults of one file (reading it again replaces them, never adds)."""
        if count:
            self.by_file[str(path)] = (count, first[:_SHOWN])

    @property
    def count(self) -> int:
        return sum(count for count, _ in self.by_file.values())

    def known_lines(self, path: Path) -> list[int] | None:
        """Every skipped line of ``path`` when all are listed (none skipped: []), else None."""
        count, first = self.by_file.get(str(path), (0, []))
        lines = [line for line, _ in first if line is not None]
        return lines if len(lines) == count else None


def detect_delimiter(path: Path) -> str:
    """The separator of a CSV file: the candidate the header line holds most often (``,`` if none).

    Only the first 64 KiB are decompressed; a header with no candidate is one column wide.
    """
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(65536).decode("utf-8", errors="replace").lstrip("\ufeff")
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from None
    header = head.split("\n", 1)[0]
    counts = {candidate: header.count(candidate) for candidate in DELIMITERS}
    best = max(DELIMITERS, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The column names of a CSV file, read from its first lines only."""
    try:
        head = pa.BufferReader(_head(path, 2))
        reader = pacsv.open_csv(head, parse_options=_parse_options(delimiter, _skip))
        return list(reader.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from None


def read_csv_table(
    path: Path,
    columns: list | None,
    text: set[str],
    *,
    delimiter: str,
    on_bad_lines: str,
    faults: LineFaults,
    max_rows: int | None = None,
) -> pa.Table:
    """The CSV's ``columns`` (all when None) as an Arrow table; ``text`` columns stay strings.

    With ``max_rows`` only the file's first lines are decompressed and parsed (a sample).

    Raises
    ------
    DataError
        The file cannot be parsed, or (``on_bad_lines = "error"``) it has malformed lines.
    """
    source: str | pa.Buffer = str(path) if max_rows is None else _head(path, max_rows + 1)
    dropped: list[int] = []
    bad_rows: list[str] = []

    def handler(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.text)
        return "skip"

    names = csv_header(path, delimiter)
    convert = pacsv.ConvertOptions(
        include_columns=columns or [],
        column_types={name: pa.string() for name in text if name in names},
        strings_can_be_null=True,
    )
    for attempt in range(2):
        bad_rows.clear()
        options = _parse_options(delimiter, handler)
        try:
            table = pacsv.read_csv(_input(source), parse_options=options, convert_options=convert)
            break
        except (pa.ArrowException, OSError) as exc:
            if attempt or "invalid UTF8" not in str(exc):
                raise _unreadable(path, exc) from None
            source, dropped = _without_undecodable_lines(path, source, on_bad_lines)
    located = [(line, "is not UTF-8 text") for line in dropped]
    if bad_rows:
        located += [
            (_original_line(line, dropped), f"has {fields}, expected {len(names)}: {text!r}")
            for line, fields, text in _locate_rows(source, delimiter)
        ]
    located.sort(key=lambda item: item[0] or 0)
    count = len(dropped) + len(bad_rows)
    if count and on_bad_lines == "error":
        raise malformed_error(path, count, located, "the same number of fields on every line")
    faults.record(path, count, located)
    return table if max_rows is None else table.slice(0, max_rows)


def read_json_lines(
    path: Path, *, on_bad_lines: str, faults: LineFaults, max_rows: int | None = None
) -> list[tuple[int, dict]]:
    """(line number, object) for each JSON line of ``path``; blank lines are passed over.

    With ``max_rows`` only the first lines are decompressed and read (a sample).
    """
    try:
        data = _bytes(str(path)) if max_rows is None else _head(path, max_rows).to_pybytes()
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc, "JSON lines") from None
    records, bad = [], []
    for number, raw in enumerate(data.lstrip(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            bad.append((number, "is not UTF-8 text"))
            continue
        except json.JSONDecodeError as exc:
            shown = raw.decode("utf-8").strip()[:80]
            bad.append((number, f"is not valid JSON ({exc.msg} at column {exc.colno}): {shown!r}"))
            continue
        if not isinstance(record, dict):
            kind = type(record).__name__
            bad.append((number, f"holds a JSON {kind}, not an object: {raw.decode()[:80]!r}"))
            continue
        records.append((number, record))
    if bad and on_bad_lines == "error":
        raise malformed_error(path, len(bad), bad, "one JSON object on each line")
    faults.record(path, len(bad), bad)
    return records


def csv_row_lines(path: Path, n_rows: int, skipped: list[int]) -> list[int] | None:
    """The file line (1-based) of each of the ``n_rows`` data rows read from the CSV ``path``.

    For error messages only (the file is read again): rows are paired with the non-blank lines
    after the header, less the ``skipped`` malformed ones; when the counts differ (a quoted value
    spanning lines), no line numbers are claimed and None is returned.
    """
    try:
        data = _bytes(str(path))
    except (pa.ArrowException, OSError):
        return None
    removed = set(skipped)
    lines = [number for number in _read_lines(data)[1:] if number not in removed]
    return lines if len(lines) == n_rows else None


def _read_lines(data: bytes) -> list[int]:
    """The file line (1-based) of each line the CSV parser reads: all but the empty ones.

    Arrow skips empty lines and numbers the rest from 1 (the header), so its k-th row is the
    k-th of these.
    """
    return [number for number, raw in enumerate(data.split(b"\n"), 1) if raw not in (b"", b"\r")]


def malformed_error(
    path: Path, count: int, located: list[tuple[int | None, str]], rule: str
) -> MalformedLinesError:
    """The DataError for malformed lines: how many, the first ones, and both fixes."""
    shown = "\n".join(
        f"    line {line if line is not None else '?'} {detail}" for line, detail in located[:5]
    )
    return MalformedLinesError(
        f"{path}: {count} malformed line(s), e.g.\n{shown}\nFix: repair or remove those lines "
        f"(the file must hold {rule}; a broken last line usually means the download stopped "
        f'early), or set [input] on_bad_lines = "skip" to drop and count them.'
    )


def _parse_options(delimiter: str, handler: object) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, invalid_row_handler=handler
    )


def _skip(row: pacsv.InvalidRow) -> str:
    return "skip"  # the header is all that is read here; the rows are checked when loaded


def _input(source: str | pa.Buffer) -> str | pa.BufferReader:
    return pa.BufferReader(source) if isinstance(source, pa.Buffer) else source


def _unreadable(path: Path, exc: Exception, what: str = "CSV") -> DataError:
    """The DataError for a file the parser gave up on; a cut compressed file says so."""
    if "runcated" in str(exc):  # gzip and zstd streams that end early
        return DataError(
            f"{path}: the compressed file ends early ({exc}), so the download or export was "
            f"interrupted; the lines in the missing part cannot be counted or recovered. Fix: "
            f"download or export the file again."
        )
    rule = "one JSON object per line" if what != "CSV" else "the same number of fields per line"
    return DataError(
        f"{path}: cannot read as {what} ({exc}). Fix: repair the file (UTF-8 text, {rule}), or "
        f"set [input] format if it is not {what}."
    )


def _locate_rows(source: str | pa.Buffer, delimiter: str) -> list[tuple[int | None, str, str]]:
    """(line, "n fields", text) of the first malformed rows: one serial pass, which numbers them."""
    found: list[tuple[int | None, str, str]] = []

    def handler(row: pacsv.InvalidRow) -> str:
        found.append((row.number, f"{row.actual_columns} field(s)", row.text[:80]))
        return "skip" if len(found) < _SHOWN else "error"

    with contextlib.suppress(pa.ArrowInvalid):  # stops after the first rows: enough to name
        pacsv.read_csv(
            _input(source),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=_parse_options(delimiter, handler),
            convert_options=pacsv.ConvertOptions(include_columns=[]),
        )
    lines = _read_lines(_bytes(source))  # Arrow's row numbers skip empty lines: back to file lines
    return [
        (lines[number - 1] if number is not None and number <= len(lines) else number, *rest)
        for number, *rest in found
    ]


def _without_undecodable_lines(
    path: Path, source: str | pa.Buffer, on_bad_lines: str
) -> tuple[pa.Buffer, list[int]]:
    """The bytes of ``source`` (the file or its head) without lines that are not UTF-8, and
    those lines' numbers."""
    lines = _bytes(source).decode("utf-8", errors="surrogateescape").split("\n")
    dropped = [number for number, line in enumerate(lines, 1) if _UNDECODABLE.search(line)]
    if on_bad_lines == "error":
        located = [(line, "is not UTF-8 text") for line in dropped]
        raise malformed_error(path, len(dropped), located, "UTF-8 text")
    kept = "\n".join(line for line in lines if not _UNDECODABLE.search(line))
    return pa.py_buffer(kept.encode("utf-8")), dropped


def _bytes(source: str | pa.Buffer) -> bytes:
    """A file's decompressed bytes, or a buffer's."""
    if isinstance(source, pa.Buffer):
        return source.to_pybytes()
    with pa.input_stream(source, compression="detect") as stream:
        return stream.read()


def _head(path: Path, lines: int) -> pa.Buffer:
    """The first ``lines`` lines of a (possibly compressed) file, decompressing no further."""
    chunks, found = [], 0
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            while found < lines:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                found += chunk.count(b"\n")
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from None
    data = b"".join(chunks)
    end = -1
    for _ in range(lines):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return pa.py_buffer(data)
    return pa.py_buffer(data[: end + 1])


def _original_line(line: int | None, dropped: list[int]) -> int | None:
    """A line number of the cleaned text as a line number of the file it came from."""
    if line is None:
        return None
    for removed in dropped:
        if removed <= line:
            line += 1
    return line
