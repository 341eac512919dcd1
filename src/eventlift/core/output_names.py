"""What each output table is called: as a CSV file under ``outputs/`` and as a database table.

Every writer (the local run, the Spark run, the warehouse sinks), the report and the run
summary's ``skipped_outputs`` read the names here. The event-level file keeps the name users
know, ``gradient_attribution_<mode>``, whatever the attribution method (the run summary's
``attribution.method`` says which method filled it); its database table is
``event_attribution_<mode>``.
"""

from __future__ import annotations

__all__ = ["OUTPUT_NAMES", "file_stem", "table_stem"]

# table key -> (CSV file stem, database table stem); both get "_<mode>" appended
OUTPUT_NAMES: dict[str, tuple[str, str]] = {
    "event_level": ("gradient_attribution", "event_attribution"),
    "event_type": ("event_type_attribution", "event_type_attribution"),
    "position": ("position_attribution", "position_attribution"),
    "store": ("store_attribution", "store_attribution"),
    "event_position": ("event_position_attribution", "event_position_attribution"),
    "event_position_matrix": ("event_position_matrix", "event_position_matrix"),
    "triangulation": ("triangulation", "triangulation"),
    "rank_agreement": ("rank_agreement", "rank_agreement"),
    "event_type_removal": ("event_type_removal", "event_type_removal"),
    "seed_stability": ("seed_stability", "seed_stability"),
}


def file_stem(key: str) -> str:
    """The CSV file stem of table ``key`` (``store`` -> ``store_attribution``)."""
    return OUTPUT_NAMES[key][0]


def table_stem(key: str) -> str:
    """The database table stem of table ``key`` (``event_level`` -> ``event_attribution``)."""
    return OUTPUT_NAMES[key][1]
