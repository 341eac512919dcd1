"""Column names that stages hand to one another.

The reader turns any input into the *canonical event frame*: one row per event, one column per
role of the data contract, every role present (null when the user did not map it),
plus ``row_number`` (the input order, used to break ties in time). Attribution produces the
*event-level frame* that the analysis tables and the sinks consume; its first columns are the
published output schema.
"""

from __future__ import annotations

# Roles of the data contract, in the README's order.
ROLES = (
    "session_id",
    "user_id",
    "timestamp",
    "event",
    "event_category",
    "event_detail",
    "store_id",
    "store_name",
)
ROW_NUMBER = "row_number"
CANONICAL_COLUMNS = (*ROLES, ROW_NUMBER)

# The published event-level schema, then helper columns kept for the roll-ups.
EVENT_LEVEL_COLUMNS = (
    "session_id",
    "position",
    "event",
    "event_category",
    "store_id",
    "store_name",
    "timestamp",
    "attribution_raw",
    "attribution",
    "converted",
    "predicted_probability",
    "split",
)
SESSION_LENGTH = "session_length"

SPLITS = ("train", "validation", "test")
UNKNOWN_TOKEN = "<unk>"
PAD_TOKEN = "<pad>"
