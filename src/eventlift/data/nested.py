"""Nested JSON events: one record per line (or row) holding a list of event objects.

``[input] nested_events`` names the list field; each element becomes one event row, with the
record's outer fields (a session or user id, a device) repeated onto it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from eventlift.exceptions import (
    DataError,
    EmptyInputError,
    MissingColumnError,
    format_rows,
    found_columns,
)

__all__ = ["flatten_events"]


def flatten_events(
    records: Iterable[tuple[int, dict]], field: str, label: str, unit: str
) -> pd.DataFrame:
    """One row per element of each record's ``field`` list, outer fields repeated onto it.

    Records without the field (or with null) contribute no events; an event's own keys win over
    outer fields of the same name. ``unit`` ("line" or "row") words the positions in messages.
    """
    rows, bad, keys = [], [], {}
    for position, record in records:
        keys.update(dict.fromkeys(record))
        items = record.get(field)
        if items is None or (isinstance(items, float) and np.isnan(items)):
            items = []
        if not isinstance(items, list | tuple | np.ndarray) or not all(
            isinstance(item, dict) for item in items
        ):
            bad.append({unit: position, field: repr(items)[:60]})
            continue
        outer = {key: value for key, value in record.items() if key != field}
        rows.extend({**outer, **item} for item in items)
    if field not in keys:
        raise MissingColumnError(
            f"{label}: [input] nested_events = {field!r}, but no record has a field {field!r}. "
            f"{found_columns(list(keys))} Fix: set [input] nested_events to the list field "
            f'holding the events, or to "" for flat input.'
        )
    if bad:
        raise DataError(
            f"{label}: {len(bad)} record(s) whose {field!r} field is not a list of event "
            f"objects, e.g.\n{format_rows(bad)}\nFix: each record's {field!r} must be a list of "
            f'objects such as [{{"event": "click", "ts": 1700000000}}].'
        )
    if not rows:
        raise EmptyInputError(
            f"{label}: no record holds any event in its {field!r} list. Fix: check the export."
        )
    return pd.DataFrame.from_records(rows)
