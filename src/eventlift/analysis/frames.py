"""Checks shared by the analysis stages on the events and sessions frames they receive.

The analysis functions are importable on their own for notebooks, so each validates its inputs
at the boundary; these helpers keep the messages identical everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from eventlift.exceptions import DataError, LabelError, MissingColumnError, format_rows

__all__ = ["require_columns", "session_labels"]


def require_columns(frame: pd.DataFrame, required: Sequence[str], name: str) -> None:
    """Raise when ``frame`` lacks one of ``required``, naming the frame and what it holds."""
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"The {name} frame lacks column(s) {missing}; it needs {list(required)} and holds "
            f"{list(frame.columns)}. Pass the {name} produced by the sessions stage."
        )


def session_labels(sessions: pd.DataFrame) -> np.ndarray:
    """Check that session ids are unique and every session is labelled; return (S,) bool labels."""
    duplicated = sessions["session_id"].duplicated(keep=False)
    if duplicated.any():
        raise DataError(
            f"The sessions frame holds {int(duplicated.sum())} rows with a repeated session_id; "
            "each session must appear once. First ones:\n"
            + format_rows(sessions.loc[duplicated, ["session_id"]].to_dict("records"))
        )
    missing = sessions["converted"].isna()
    if missing.any():
        rows = sessions.loc[missing, ["session_id", "converted"]]
        raise LabelError(
            f"The sessions frame has {len(rows)} sessions without a converted label; every "
            "session needs True or False. First ones:\n" + format_rows(rows.to_dict("records"))
        )
    return sessions["converted"].to_numpy().astype(bool)
