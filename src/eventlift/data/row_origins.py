"""Where a loaded row sits in the files it came from, for messages about single rows.

A frame loaded from several files (or from one CSV or JSON lines file) has lost its rows'
origins; a :data:`RowLocator` gives them back on demand, only when a message needs them:
``"line 17"`` for one file, ``"events/part-2.csv, line 17"`` for several.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["Part", "RowLocator", "locate_in_parts"]

# a part's path, its rows as loaded, and a function giving each row's file line (None: unknown)
Part = tuple[Path, int, Callable[[], list[int] | None]]
RowLocator = Callable[[np.ndarray], list[str]]


def locate_in_parts(parts: Callable[[], list[Part]], several: bool) -> RowLocator:
    """A :data:`RowLocator` over the parts a frame was loaded from, in order.

    A row is named by its file line where the part knows it, else by its 1-based data row;
    with ``several`` files the part's path comes first.
    """

    def locate(positions: np.ndarray) -> list[str]:
        chosen = parts()
        starts = np.cumsum([0] + [rows for _, rows, _ in chosen])  # (parts + 1,)
        lines: dict[int, list[int] | None] = {}
        labels = []
        for position in positions:
            index = int(np.searchsorted(starts, position, side="right")) - 1
            path, _, line_numbers = chosen[index]
            if index not in lines:
                lines[index] = line_numbers()
            row = int(position - starts[index])
            found = lines[index]
            where = f"line {found[row]}" if found is not None else f"data row {row + 1}"
            labels.append(f"{path}, {where}" if several else where)
        return labels

    return locate
