"""Text columns held as pandas categoricals: one small integer code per event.

A log of tens of millions of events repeats a few dozen event names, a few hundred stores and one
session id per dozen events. Kept as strings, each column costs 15-60 bytes per event; as a
categorical it costs one code (1-4 bytes) plus the distinct values once. Sorting, grouping and
duplicate checks then run on integer codes. Text converted here gets sorted categories, so
ordering by a column orders by its text, exactly as with strings (a categorical passed in keeps its
own category order, which then only decides the order of the sessions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

__all__ = ["as_categorical", "category_mask", "compact_events"]


def as_categorical(values: pd.Series) -> pd.Series:
    """``values`` as a categorical with sorted text categories (nulls stay null)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values
    return values.astype("string").astype("category")


def compact_events(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A shallow copy of ``frame`` whose ``columns`` (those present) are categoricals."""
    out = frame.copy(deep=False)
    for name in columns:
        if name in out.columns:
            out[name] = as_categorical(out[name])
    return out


def category_mask(values: pd.Series, predicate: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``predicate`` (text Series in, booleans out) per event; evaluated once per distinct value
    when ``values`` is categorical. Nulls give False."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return predicate(values.astype("string")).fillna(False).to_numpy(dtype=bool)
    categories = pd.Series(values.cat.categories, dtype="string")
    per_category = predicate(categories).fillna(False).to_numpy(dtype=bool)
    return np.append(per_category, False)[values.cat.codes.to_numpy()]  # code -1 (null) -> False
