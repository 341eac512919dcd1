"""The attribution tables: event type, position, store, event at position.

Each table compares converted with non-converted sessions: ``lift = attr_converted -
attr_not_converted``. Two kinds of mean are used, each where it answers the analyst's question:

- **event type and position**: the *share of a session's attribution* that the group takes,
  averaged over the side's sessions (0 where a session has no such event). "Converted sessions
  give 18 % of their attribution to store_page_load, others 9 %: lift +0.09." This counts both
  how often the group occurs and how much it weighs when it does, so a funnel step that appears
  almost only before conversions takes the top lift, as it should.
- **store and event at position**: the mean attribution of the group's *events* ("McDonald's
  events average 0.42"), as a store or a (position, event) cell is one event in most sessions.

Because normalised scores shrink as sessions grow, every table also carries
``lift_length_adjusted``: the converted-minus-not mean over the group's events of
``attribution * session_length`` (1 means a uniform share of the session). Every row keeps its
support; rows with fewer than ``min_support`` events on either side are flagged ``low_support``,
never dropped. The event-type, position and store tables carry a 95 % percentile bootstrap interval
of the lift over sessions, all three from the same resamples. The event-type table also carries
``attr_signed_mean``, the mean signed score of its events (which way they push the logit), with its
interval from the same resamples.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from eventlift.analysis.bootstrap import SessionBootstrap
from eventlift.analysis.group_stats import (
    EventArrays,
    event_arrays,
    group_stats,
    most_frequent,
    optional_column,
)
from eventlift.exceptions import ConfigError, DataError, MissingColumnError, format_rows

__all__ = ["attribution_tables", "position_bucket_labels"]

logger = logging.getLogger(__name__)

_LIFT = ("attr_converted", "attr_not_converted", "lift")
_CI = ("lift_ci_low", "lift_ci_high")
EVENT_TYPE_COLUMNS = (
    "event", "n_events", "n_sessions", *_LIFT, *_CI, "lift_length_adjusted", "low_support",
    "event_category", "attr_signed_mean", "attr_signed_ci_low", "attr_signed_ci_high",
)  # fmt: skip
POSITION_COLUMNS = (
    "position_bucket", "n_events", *_LIFT, *_CI, "lift_length_adjusted", "low_support",
    "n_sessions",
)  # fmt: skip
STORE_COLUMNS = (
    "store_id", "store_name", "n_events", "n_sessions", *_LIFT, *_CI, "session_conversion_rate",
    "low_support", "lift_length_adjusted", "attr_signed_mean",
)  # fmt: skip
EVENT_POSITION_COLUMNS = (
    "position", "event", "n_events", *_LIFT, "low_support", "lift_length_adjusted",
)  # fmt: skip
MATRIX_COLUMNS = ("event", "position_bucket", "n_events", "attr_mean", *_LIFT)

_Interval = tuple[np.ndarray, np.ndarray]  # (G,) lower and upper bounds of the lift


def position_bucket_labels(edges: Sequence[int]) -> list[str]:
    """Labels of the position buckets that start at ``edges``; the last one is open-ended.

    ``(1, 6, 11, 21, 51)`` gives ``["1-5", "6-10", "11-20", "21-50", "51+"]``; a bucket holding a
    single position is labelled by it alone (``(1, 2, 3)`` gives ``["1", "2", "3+"]``).

    Raises
    ------
    ConfigError
        ``edges`` is empty, does not start at 1, or is not strictly increasing.
    """
    starts = [int(edge) for edge in edges]
    if not starts or starts[0] != 1 or any(b <= a for a, b in itertools.pairwise(starts)):
        raise ConfigError(
            "[attribution] position_buckets must be strictly increasing bucket starts beginning "
            f"at 1, e.g. [1, 6, 11, 21, 51]; got {list(edges)}."
        )
    labels = [
        str(start) if stop - 1 == start else f"{start}-{stop - 1}"
        for start, stop in itertools.pairwise(starts)
    ]
    return [*labels, f"{starts[-1]}+"]


def attribution_tables(
    events: pd.DataFrame,
    *,
    position_buckets: Sequence[int] = (1, 6, 11, 21, 51),
    min_support: int = 20,
    bootstrap: int = 200,
    seed: int = 0,
    stores: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Roll per-event attributions up into the four attribution tables.

    Parameters
    ----------
    events
        The event-level frame of the attributed sessions (already restricted to the attribution
        split): ``session_id, position, event, attribution_raw, attribution, converted`` are
        required; ``event_category, store_id, store_name`` are used when present and
        ``session_length`` is counted from the frame when absent.
    position_buckets
        Bucket starts; the last bucket is open-ended.
    min_support
        Minimum number of events on each side (converted and not) for a row not to be flagged
        ``low_support``.
    bootstrap
        Number of session resamples for the lift intervals; 0 leaves the interval columns NaN.
    seed
        Seed of the resamples; the same input and seed give identical tables.
    stores
        Optional store dimension with a unique ``store_id`` column; its ``store_name`` fills missing
        names and its other columns are appended to the store table.

    Returns
    -------
    dict of DataFrame
        ``"event_type"`` (by lift, descending), ``"position"`` (every bucket, in order),
        ``"store"`` (by lift, descending; events without a store are left out of this table only),
        ``"event_position"`` (by position, then lift) and ``"event_position_matrix"`` (long format,
        one row per event and bucket that holds events). Undefined lifts (no event on one side)
        are NaN and sort last.

    Raises
    ------
    MissingColumnError
        A required column is missing from ``events`` or ``store_id`` from ``stores``.
    DataError
        Missing attributions or labels, positions below 1, a session labelled both ways, or a
        store dimension with repeated ids or columns that clash with the table's.
    ConfigError
        Invalid ``position_buckets``, or a negative ``bootstrap`` or ``min_support``.
    """
    labels = position_bucket_labels(position_buckets)
    if bootstrap < 0 or min_support < 0:
        raise ConfigError(
            "[attribution] bootstrap and min_support must be >= 0 (bootstrap = 0 turns the "
            f"intervals off); got bootstrap={bootstrap}, min_support={min_support}."
        )
    ev = event_arrays(events)
    logger.info(
        "attribution tables: %d events, %d sessions, %d bootstrap resamples",
        len(ev.frame), len(ev.session_converted), bootstrap,
    )  # fmt: skip
    event_codes, event_names = pd.factorize(ev.frame["event"], sort=True)  # (E,), names sorted
    store_codes, store_ids = pd.factorize(
        optional_column(ev, "store_id")
    )  # (E,), -1 without a store
    bucket = np.searchsorted(np.asarray(position_buckets), ev.frame["position"].to_numpy(), "right")
    bucket = bucket.astype(np.int64) - 1  # (E,) 0..K-1
    boot = SessionBootstrap(ev.session, ev.session_converted, bootstrap, seed)
    event_ci, bucket_ci, store_ci = boot.lift_intervals(
        [(event_codes, len(event_names)), (bucket, len(labels)), (store_codes, len(store_ids))],
        ev.attribution,
        per_session=[True, True, False],
    )
    (signed_ci,) = boot.mean_intervals([(event_codes, len(event_names))], ev.signed)
    return {
        "event_type": _event_type_table(
            ev, event_codes, event_names, event_ci, signed_ci, min_support
        ),
        "position": _position_table(ev, bucket, labels, bucket_ci, min_support),
        "store": _store_table(ev, store_codes, store_ids, store_ci, min_support, stores),
        "event_position": _event_position_table(ev, event_codes, event_names, min_support),
        "event_position_matrix": _matrix_table(ev, event_codes, event_names, bucket, labels),
    }


def _sorted_by_lift(table: pd.DataFrame, key: str, columns: Sequence[str]) -> pd.DataFrame:
    """Rows by lift descending (NaN last), ties by ``key``; index reset, columns ordered."""
    table = table.sort_values(["lift", key], ascending=[False, True], na_position="last")
    return table.loc[:, list(columns)].reset_index(drop=True)


def _event_type_table(
    ev: EventArrays,
    codes: np.ndarray,
    uniques: pd.Index,
    ci: _Interval,
    signed_ci: _Interval,
    min_support: int,
) -> pd.DataFrame:
    table = pd.DataFrame(group_stats(ev, codes, len(uniques), min_support, per_session=True))
    table["lift_ci_low"], table["lift_ci_high"] = ci
    table["attr_signed_ci_low"], table["attr_signed_ci_high"] = signed_ci
    table["event"] = uniques
    table["event_category"] = most_frequent(
        codes, optional_column(ev, "event_category"), len(uniques)
    ).to_numpy()
    return _sorted_by_lift(table, "event", EVENT_TYPE_COLUMNS)


def _position_table(
    ev: EventArrays, bucket: np.ndarray, labels: list[str], ci: _Interval, min_support: int
) -> pd.DataFrame:
    table = pd.DataFrame(group_stats(ev, bucket, len(labels), min_support, per_session=True))
    table["lift_ci_low"], table["lift_ci_high"] = ci
    # a bucket no session reaches has a share of 0 in every resample: no interval, not [0, 0]
    table.loc[table["n_events"] == 0, ["lift_ci_low", "lift_ci_high"]] = np.nan
    table["position_bucket"] = labels
    return table.loc[:, list(POSITION_COLUMNS)]


def _store_table(
    ev: EventArrays,
    codes: np.ndarray,
    uniques: pd.Index,
    ci: _Interval,
    min_support: int,
    stores: pd.DataFrame | None,
) -> pd.DataFrame:
    table = pd.DataFrame(group_stats(ev, codes, len(uniques), min_support))
    table["lift_ci_low"], table["lift_ci_high"] = ci
    table["store_id"] = uniques
    names = most_frequent(codes, optional_column(ev, "store_name"), len(uniques))
    table["store_name"] = names.to_numpy()
    table = _sorted_by_lift(table, "store_id", STORE_COLUMNS)
    return table if stores is None else _join_stores(table, stores)


def _join_stores(table: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    """Fill missing store names from the dimension and append its attribute columns."""
    if "store_id" not in stores.columns:
        raise MissingColumnError(
            f"The stores dimension lacks column 'store_id'; it holds {list(stores.columns)}. "
            "Map the store key column to 'store_id' before joining."
        )
    keys = stores["store_id"].astype(str)
    repeated = keys.duplicated(keep=False)
    if repeated.any():
        raise DataError(
            f"The stores dimension repeats {int(keys[repeated].nunique())} store_id values; it "
            "must hold one row per store. First ones:\n"
            + format_rows(stores.loc[repeated].head().to_dict("records"))
        )
    attributes = [column for column in stores.columns if column not in ("store_id", "store_name")]
    clashes = [column for column in attributes if column in table.columns]
    if clashes:
        raise DataError(
            f"The stores dimension has column(s) {clashes} that the store table already defines; "
            "rename them in the dimension (e.g. with a 'store_' prefix)."
        )
    aligned = stores.set_axis(keys.to_numpy()).reindex(table["store_id"].astype(str).to_numpy())
    table = table.copy()
    if "store_name" in stores.columns:
        known = table["store_name"].notna().to_numpy()
        table["store_name"] = np.where(
            known, table["store_name"].to_numpy(), aligned["store_name"].to_numpy()
        )
    for column in attributes:
        table[column] = aligned[column].to_numpy()
    return table


def _event_position_table(
    ev: EventArrays, events: np.ndarray, event_names: pd.Index, min_support: int
) -> pd.DataFrame:
    width = max(len(event_names), 1)
    positions = ev.frame["position"].to_numpy().astype(np.int64)  # (E,)
    codes, cells = pd.factorize(positions * width + events, sort=True)  # (E,), (C,)
    table = pd.DataFrame(group_stats(ev, codes, len(cells), min_support))
    table["position"] = cells // width
    table["event"] = event_names[cells % width]
    table = table.sort_values(
        ["position", "lift", "event"], ascending=[True, False, True], na_position="last"
    )
    return table.loc[:, list(EVENT_POSITION_COLUMNS)].reset_index(drop=True)


def _matrix_table(
    ev: EventArrays,
    events: np.ndarray,
    event_names: pd.Index,
    bucket: np.ndarray,
    labels: list[str],
) -> pd.DataFrame:
    """Event × bucket cells in event-name then bucket order (``events`` coded in name order)."""
    codes, cells = pd.factorize(events * len(labels) + bucket, sort=True)  # (E,), (C,)
    table = pd.DataFrame(group_stats(ev, codes, len(cells), min_support=0))
    table["event"] = event_names[cells // len(labels)]
    table["position_bucket"] = np.asarray(labels, dtype=object)[cells % len(labels)]
    return table.loc[:, list(MATRIX_COLUMNS)]
