"""Vocabularies of events, categories and stores, built on the training split only.

Id 0 is padding (also used for a missing value, e.g. an event without a store) and id 1 is
``<unk>``, shared by values rarer than ``min_count`` in training and by values never seen there, so
validation, test and later inference data map cleanly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from eventlift.data.schema import PAD_TOKEN, UNKNOWN_TOKEN

__all__ = ["PAD_ID", "UNK_ID", "Vocabulary"]

PAD_ID = 0
UNK_ID = 1


class Vocabulary:
    """Ordered known values; ``encode`` maps values to ids and unknown ones to ``UNK_ID``."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if list(tokens[:2]) != [PAD_TOKEN, UNKNOWN_TOKEN]:
            raise ValueError("a vocabulary starts with the padding and unknown tokens")
        self.tokens = list(tokens)
        self._index = pd.Index(self.tokens)

    @classmethod
    def build(cls, values: pd.Series, min_count: int = 1) -> Vocabulary:
        """Values seen at least ``min_count`` times, most frequent first (ties by name)."""
        if isinstance(values.dtype, pd.CategoricalDtype):
            counts = values.value_counts()  # per category, unseen ones with 0
        else:
            counts = values.dropna().astype("string").value_counts()
        counts = counts[(counts >= min_count) & (counts > 0)]
        frame = pd.DataFrame({"token": counts.index.astype(str), "n": counts.to_numpy()})
        frame = frame.sort_values(["n", "token"], ascending=[False, True], kind="stable")
        return cls([PAD_TOKEN, UNKNOWN_TOKEN, *frame["token"].tolist()])

    def encode(self, values: pd.Series) -> np.ndarray:
        """Ids of ``values``: unknown values become ``UNK_ID``; nulls become ``PAD_ID``, whose
        embedding is zero, so an event without a store adds no store vector."""
        if isinstance(values.dtype, pd.CategoricalDtype):  # look up each distinct value once
            per_category = self._index.get_indexer(values.cat.categories.astype(str))
            per_category[per_category < 0] = UNK_ID
            lookup = np.append(per_category, PAD_ID)  # code -1 (null) reads PAD_ID
            return lookup[values.cat.codes.to_numpy()].astype(np.int64)
        strings = values.astype("string")
        ids = self._index.get_indexer(strings.fillna(PAD_TOKEN).astype(str))
        ids[ids < 0] = UNK_ID
        ids[strings.isna().to_numpy()] = PAD_ID
        return ids.astype(np.int64)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    __hash__ = None  # mutable-looking value object: compare, do not hash
