"""Which output tables the report shows, under which headings, with which columns.

One :class:`TableSpec` per CSV of ``outputs/``: the report builder reads the files these specs
name, checks their required columns, and :func:`eventlift.report.sections.data_table` renders
them.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventlift.analysis.multitouch import CREDIT_COLUMNS
from eventlift.core.output_names import file_stem

__all__ = ["CI", "TABLES", "TableSpec"]

CI = "lift_ci"  # pseudo column: the interval [lift_ci_low, lift_ci_high] in one cell


@dataclass(frozen=True)
class TableSpec:
    """How one CSV of ``outputs/`` is shown.

    ``columns`` pairs a column with its header and is shown when the CSV has it; ``required``
    columns must exist or the file is rejected; ``top`` caps a long table to its rows of largest
    ``sort_by``, so that a store table of thousands of rows keeps the page readable.
    """

    key: str
    title: str
    columns: tuple[tuple[str, str], ...]
    required: tuple[str, ...]
    top: int | None = None
    sort_by: str = "lift"
    optional: bool = False

    @property
    def stem(self) -> str:
        """The CSV file stem (:mod:`eventlift.core.output_names`)."""
        return file_stem(self.key)


_SUPPORT = (("n_events", "events"), ("n_sessions", "sessions"))
_MEANS = (
    ("attr_converted", "mean attribution, converted"),
    ("attr_not_converted", "mean attribution, not converted"),
    ("lift", "lift"),
)
_LIFT = (*_MEANS, (CI, "95 % interval"))
_LOW = (("low_support", "low support"),)
_ADJUSTED = (("lift_length_adjusted", "length-adjusted lift"),)
_CREDITS = tuple((name, name.replace("_", " ")) for name in ("transformer_lift", *CREDIT_COLUMNS))
_INTERVAL = ("lift", "lift_ci_low", "lift_ci_high", "low_support")
TABLES = (
    TableSpec(
        "event_type",
        "Attribution by event type",
        (("event", "event"), ("event_category", "category"), *_SUPPORT, *_LIFT, *_ADJUSTED, *_LOW),
        ("event", "n_events", *_INTERVAL),
    ),
    TableSpec(
        "position",
        "Attribution by position",
        (("position_bucket", "positions"), *_SUPPORT, *_LIFT, *_ADJUSTED, *_LOW),
        ("position_bucket", "n_events", *_INTERVAL),
    ),
    TableSpec(
        "store",
        "Attribution by store",
        (
            ("store_id", "store"),
            ("store_name", "name"),
            *_SUPPORT,
            *_LIFT,
            ("session_conversion_rate", "conversion rate of sessions"),
            *_LOW,
        ),
        ("store_id", "n_events", *_INTERVAL),
        top=25,
    ),
    TableSpec(
        "event_position",
        "Event at position",
        (("position", "position"), ("event", "event"), *_SUPPORT, *_MEANS, *_LOW),
        ("position", "event", "n_events", "lift", "low_support"),
        top=25,
    ),
    TableSpec(
        "triangulation",
        "Triangulation: the model's lift beside multi-touch credit",
        (("event", "event"), *_CREDITS),
        ("event", "transformer_lift"),
        top=25,
        sort_by="transformer_lift",
        optional=True,
    ),
    TableSpec(
        "rank_agreement",
        "Rank agreement: Kendall τ between methods",
        (("method", "method"), *_CREDITS),
        ("method",),
        optional=True,
    ),
)
