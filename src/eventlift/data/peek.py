"""Read the first rows of a source exactly as the run would, before any column is mapped.

``eventlift init`` proposes a config from what a source holds. To propose only what the run will
understand, the rows come through the same openers as the run (:mod:`eventlift.data.sources`), so
every format, compression, delimiter and malformed-line rule of the reader applies here too.
Files are read only as far as the sample reaches (the first lines of a CSV or JSON lines file,
decompressed no further; the first row groups of Parquet); a query is wrapped in a ``LIMIT`` so
that the database, not this process, cuts the sample. JSON lines whose rows hold a list of event
objects (one object per session or user) are recognised and flattened, so that the sample holds
one row per event as the run will see it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from eventlift.config import InputConfig
from eventlift.data.column_stats import time_reading
from eventlift.data.sources import open_source
from eventlift.data.textfiles import LineFaults, detect_delimiter
from eventlift.exceptions import ConfigError, EmptyInputError, MalformedLinesError

__all__ = ["DEFAULT_SAMPLE_ROWS", "Sample", "input_keys", "nested_field", "read_sample"]

DEFAULT_SAMPLE_ROWS = 100_000
_PROBE_ROWS = 200  # rows inspected for a nested list of events


@dataclass(frozen=True)
class Sample:
    """The first rows of a source and the ``[input]`` settings that read them.

    ``frame`` holds the raw columns (text for untyped formats such as CSV, as the run reads
    them); ``settings`` holds the ``[input]`` keys, beyond the source itself, that reading needed
    (``nested_events``, ``on_bad_lines``...), and ``notes`` a sentence per key saying why.
    """

    label: str
    frame: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def input_keys() -> set[str]:
    """The keys ``[input]`` accepts: what a written config may set and nothing more."""
    return {f.name for f in dataclasses.fields(InputConfig)}


def read_sample(
    path: str | Path | None = None,
    *,
    query: str | None = None,
    database: str | None = None,
    rows: int = DEFAULT_SAMPLE_ROWS,
) -> Sample:
    """The first ``rows`` rows of a file, folder or glob, or of a query's result.

    Parameters
    ----------
    path : str or Path, optional
        What ``[input] path`` would name; give either this or ``query`` and ``database``.
    query, database : str, optional
        SQL and the DuckDB file or SQLAlchemy URL to run it against, as in ``[input]``.
    rows : int
        How many rows to read at most.

    Raises
    ------
    ConfigError
        Neither or both of a path and a query, or ``rows`` not positive.
    DataError
        The source does not exist or cannot be read (the reader's own message and fix).
    EmptyInputError
        The source holds no rows.
    """
    if rows <= 0:
        raise ConfigError(f"--rows must be positive, got {rows}.")
    if (path is None) == (query is None):
        raise ConfigError(
            "give either a data file (eventlift init events.csv) or a query and its database "
            "(eventlift init --query 'SELECT * FROM events' --database warehouse.duckdb)."
        )
    if query is not None:
        if not database:
            raise ConfigError("--query needs --database: a DuckDB file or a SQLAlchemy URL.")
        limited = f"SELECT * FROM ({query.strip().rstrip(';')}) AS sample LIMIT {int(rows)}"
        config = InputConfig(query=limited, database=database)
        settings: dict[str, Any] = {"query": query.strip(), "database": database}
    else:
        config = InputConfig(path=str(path))
        settings = {"path": str(path)}
    sample = _read(config, rows)
    nested = nested_field(sample.frame)
    if nested is None:
        return dataclasses.replace(sample, settings={**settings, **sample.settings})
    flat = _read(dataclasses.replace(config, nested_events=nested), rows)
    note = (
        f"each row holds a list of event objects in {nested!r}: read one row per event, "
        f"the row's other fields repeated onto its events"
    )
    return dataclasses.replace(
        flat,
        settings={**settings, **flat.settings, "nested_events": nested},
        notes={**flat.notes, "nested_events": note},
    )


def nested_field(frame: pd.DataFrame) -> str | None:
    """The column whose values are lists of event objects (events nested per session), if any.

    Rows that carry their own event time are events already: a list of objects beside it holds
    an event's parameters or items (as analytics exports nest them), never further events.
    """
    head = frame.head(_PROBE_ROWS)
    lists = [
        name
        for name in head.columns
        if head[name].dtype == object
        and head[name].notna().any()
        and all(_is_list_of_objects(value) for value in head[name].dropna())
    ]
    if not lists:
        return None
    others = [name for name in head.columns if name not in lists]
    if any(time_reading(head[name], str(name), "<sample>") for name in others):
        return None
    return str(lists[0])


def _is_list_of_objects(value: object) -> bool:
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__len__"):
        return False
    return len(value) > 0 and all(isinstance(item, dict) for item in value)


def _read(config: InputConfig, rows: int) -> Sample:
    """Open and load the first rows; when the reader refuses malformed lines, skip and count them.

    The written config then says ``on_bad_lines = "skip"``, with how many lines the sample held
    and where, so the user decides with the numbers in front of them.
    """
    try:
        return _load(config, rows)
    except MalformedLinesError:
        pass
    sample, faults = _load_with_faults(dataclasses.replace(config, on_bad_lines="skip"), rows)
    first = [(line, detail) for _, shown in faults.by_file.values() for line, detail in shown]
    examples = "; ".join(f"line {line}: {detail.split(':')[0]}" for line, detail in first[:3])
    more = ", ..." if faults.count > 3 else ""
    note = (
        f"the sample held {faults.count} malformed line(s) ({examples}{more}); they are dropped "
        f"and counted in the run summary (dropped_rows.malformed_lines). Repair the export to "
        f"keep them"
    )
    return dataclasses.replace(
        sample,
        settings={**sample.settings, "on_bad_lines": "skip"},
        notes={**sample.notes, "on_bad_lines": note},
    )


def _load(config: InputConfig, rows: int) -> Sample:
    return _load_with_faults(config, rows)[0]


def _load_with_faults(config: InputConfig, rows: int) -> tuple[Sample, LineFaults]:
    opened = open_source(None, config, max_rows=rows)
    if not opened.columns:
        raise EmptyInputError(
            f"{opened.label}: the input holds no columns and no rows. Fix: point eventlift init "
            f"at a non-empty export."
        )
    frame = opened.load(None, set(opened.columns)).head(rows).reset_index(drop=True)
    if frame.empty:
        raise EmptyInputError(
            f"{opened.label}: the input has columns but no rows. Fix: point eventlift init at a "
            f"non-empty export (check the query's filters or the file)."
        )
    settings, notes = {}, {}
    path = Path(config.path) if config.path else None
    separated = any("fields separated by" in note for note in opened.notes)
    if separated and path is not None and path.is_file():
        delimiter = detect_delimiter(path)
        settings["delimiter"] = delimiter
        notes["delimiter"] = f"fields are separated by {delimiter!r} (detected from the header)"
    combined = [note.split(": ", 1)[-1] for note in opened.notes if "files as one log" in note]
    if combined:
        notes["path"] = combined[0].rstrip(".")
    return Sample(opened.label, frame, settings, notes), opened.faults
