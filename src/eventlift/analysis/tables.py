"""The attribution tables: event type, position, store, event at position (DESIGN §6, §8).

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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventlift.analysis.bootstrap import SessionBootstrap
from eventlift.data.schema import SESSION_LENGTH
from eventlift.exceptions import ConfigError, DataError, MissingColumnError, format_rows

__all__ = ["attribution_tables", "position_bucket_labels"]

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "session_id", "position", "event", "attribution_raw", "attribution", "converted",
)  # fmt: skip

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


@dataclass(frozen=True)
class _Events:
    """Event-level arrays shared by every table: ``E`` events in ``S`` sessions."""

    frame: pd.DataFrame  # the validated input, index 0..E-1
    session: np.ndarray  # (E,) session code 0..S-1
    converted: np.ndarray  # (E,) bool, the session's label
    attribution: np.ndarray  # (E,) normalised score in [0, 1]
    adjusted: np.ndarray  # (E,) attribution * session_length
    signed: np.ndarray  # (E,) attribution_raw
    session_converted: np.ndarray  # (S,) bool


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
    """Roll per-event attributions up into the tables of DESIGN §6.

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
    ev = _prepare(events)
    logger.info(
        "attribution tables: %d events, %d sessions, %d bootstrap resamples",
        len(ev.frame), len(ev.session_converted), bootstrap,
    )  # fmt: skip
    event_codes, event_names = pd.factorize(ev.frame["event"], sort=True)  # (E,), names sorted
    store_codes, store_ids = pd.factorize(_optional(ev, "store_id"))  # (E,), -1 without a store
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


def _prepare(events: pd.DataFrame) -> _Events:
    """Validate the event-level frame and turn it into the shared arrays."""
    missing = [column for column in REQUIRED_COLUMNS if column not in events.columns]
    if missing:
        raise MissingColumnError(
            f"The event-level frame lacks column(s) {missing}; it needs {list(REQUIRED_COLUMNS)} "
            f"and holds {list(events.columns)}. Pass the frame produced by the attribution stage."
        )
    frame = events.reset_index(drop=True)
    bad = frame[list(REQUIRED_COLUMNS)].isna().any(axis=1)
    if bad.any():
        raise DataError(
            f"The event-level frame has {int(bad.sum())} row(s) with a missing value in "
            f"{list(REQUIRED_COLUMNS)}; every attributed event needs them. First ones:\n"
            + format_rows(frame.loc[bad, list(REQUIRED_COLUMNS)].to_dict("records"))
        )
    if (frame["position"] < 1).any():
        rows = frame.loc[frame["position"] < 1, ["session_id", "position", "event"]]
        raise DataError(
            "The event-level frame has positions below 1; positions are 1-based. First ones:\n"
            + format_rows(rows.to_dict("records"))
        )
    session, _ = pd.factorize(frame["session_id"])
    converted = frame["converted"].to_numpy().astype(bool)  # (E,)
    n_sessions = int(session.max()) + 1 if len(session) else 0
    converted_events = np.bincount(session, weights=converted, minlength=n_sessions)  # (S,)
    session_size = np.bincount(session, minlength=n_sessions)  # (S,)
    mixed = (converted_events > 0) & (converted_events < session_size)  # (S,)
    if mixed.any():
        rows = frame.loc[mixed[session], ["session_id", "converted"]].drop_duplicates()
        raise DataError(
            f"The event-level frame has {int(mixed.sum())} session(s) with events labelled both "
            "converted and not; `converted` is a session label and must be constant within a "
            "session. First ones:\n" + format_rows(rows.to_dict("records"))
        )
    if SESSION_LENGTH in frame.columns:
        length = frame[SESSION_LENGTH].to_numpy(dtype=float)  # (E,)
    else:
        length = session_size[session].astype(float)
    attribution = frame["attribution"].to_numpy(dtype=float)  # (E,)
    return _Events(
        frame=frame,
        session=session.astype(np.int64),
        converted=converted,
        attribution=attribution,
        adjusted=attribution * length,
        signed=frame["attribution_raw"].to_numpy(dtype=float),
        session_converted=converted_events > 0,
    )


def _group_stats(
    ev: _Events, codes: np.ndarray, n_groups: int, min_support: int, per_session: bool = False
) -> dict[str, np.ndarray]:
    """Support, side means and lifts of ``G`` groups.

    ``codes`` is the ``(E,)`` group of each event, negative to leave it out. With
    ``per_session`` the side means are shares of session attribution (sums over the side's
    sessions divided by its number of sessions); otherwise means over the group's events.
    Every returned array has shape ``(G,)``.
    """
    keep = codes >= 0
    groups = codes[keep]  # (E',)
    conv = ev.converted[keep]  # (E',)
    n_conv = np.bincount(groups[conv], minlength=n_groups)
    n_not = np.bincount(groups[~conv], minlength=n_groups)

    def side_mean(values: np.ndarray, side: np.ndarray, counts: np.ndarray) -> np.ndarray:
        sums = np.bincount(groups[side], weights=values[keep][side], minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(counts > 0, sums / counts, np.nan)

    n_events = n_conv + n_not
    if per_session:
        sessions_conv = np.full(n_groups, ev.session_converted.sum())
        sessions_not = np.full(n_groups, (~ev.session_converted).sum())
        attr_conv = side_mean(ev.attribution, conv, sessions_conv)
        attr_not = side_mean(ev.attribution, ~conv, sessions_not)
        attr_all = side_mean(ev.attribution, np.ones_like(conv), sessions_conv + sessions_not)
        empty = n_events == 0  # a group without events has no share to report
        attr_conv[empty], attr_not[empty], attr_all[empty] = np.nan, np.nan, np.nan
    else:
        attr_conv = side_mean(ev.attribution, conv, n_conv)
        attr_not = side_mean(ev.attribution, ~conv, n_not)
        attr_all = side_mean(ev.attribution, np.ones_like(conv), n_events)
    # Distinct (session, group) pairs give the sessions that touched each group.
    width = max(n_groups, 1)
    pairs = np.sort(ev.session[keep] * width + groups)  # (E',)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # (P,)
    pair_groups = pairs % width
    pair_converted = ev.session_converted[pairs // width]
    n_sessions = np.bincount(pair_groups, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion_rate = np.bincount(pair_groups[pair_converted], minlength=n_groups) / n_sessions
    return {
        "n_events": n_events.astype(np.int64),
        "n_sessions": n_sessions.astype(np.int64),
        "attr_mean": attr_all,
        "attr_converted": attr_conv,
        "attr_not_converted": attr_not,
        "lift": attr_conv - attr_not,
        "lift_length_adjusted": side_mean(ev.adjusted, conv, n_conv)
        - side_mean(ev.adjusted, ~conv, n_not),
        "attr_signed_mean": side_mean(ev.signed, np.ones_like(conv), n_events),
        "session_conversion_rate": conversion_rate,
        "low_support": (n_conv < min_support) | (n_not < min_support),
    }


def _most_frequent(codes: np.ndarray, values: pd.Series, n_groups: int) -> pd.Series:
    """Most frequent non-null value of each group (ties: the smallest value); NaN when none."""
    pairs = pd.DataFrame({"group": codes, "value": values.to_numpy()})
    pairs = pairs[(pairs["group"] >= 0) & pairs["value"].notna()]
    counts = pairs.groupby(["group", "value"], sort=True).size().reset_index(name="n")
    top = counts.sort_values(["group", "n"], ascending=[True, False], kind="stable")
    top = top.drop_duplicates("group")
    return pd.Series(top["value"].to_numpy(), index=top["group"].to_numpy()).reindex(
        range(n_groups)
    )


def _optional(ev: _Events, column: str) -> pd.Series:
    """A column of the frame, or all-missing when the frame does not have it."""
    if column in ev.frame.columns:
        return ev.frame[column]
    return pd.Series(np.nan, index=ev.frame.index, dtype=object)


def _sorted_by_lift(table: pd.DataFrame, key: str, columns: Sequence[str]) -> pd.DataFrame:
    """Rows by lift descending (NaN last), ties by ``key``; index reset, columns ordered."""
    table = table.sort_values(["lift", key], ascending=[False, True], na_position="last")
    return table.loc[:, list(columns)].reset_index(drop=True)


def _event_type_table(
    ev: _Events,
    codes: np.ndarray,
    uniques: pd.Index,
    ci: _Interval,
    signed_ci: _Interval,
    min_support: int,
) -> pd.DataFrame:
    table = pd.DataFrame(_group_stats(ev, codes, len(uniques), min_support, per_session=True))
    table["lift_ci_low"], table["lift_ci_high"] = ci
    table["attr_signed_ci_low"], table["attr_signed_ci_high"] = signed_ci
    table["event"] = uniques
    table["event_category"] = _most_frequent(
        codes, _optional(ev, "event_category"), len(uniques)
    ).to_numpy()
    return _sorted_by_lift(table, "event", EVENT_TYPE_COLUMNS)


def _position_table(
    ev: _Events, bucket: np.ndarray, labels: list[str], ci: _Interval, min_support: int
) -> pd.DataFrame:
    table = pd.DataFrame(_group_stats(ev, bucket, len(labels), min_support, per_session=True))
    table["lift_ci_low"], table["lift_ci_high"] = ci
    # a bucket no session reaches has a share of 0 in every resample: no interval, not [0, 0]
    table.loc[table["n_events"] == 0, ["lift_ci_low", "lift_ci_high"]] = np.nan
    table["position_bucket"] = labels
    return table.loc[:, list(POSITION_COLUMNS)]


def _store_table(
    ev: _Events,
    codes: np.ndarray,
    uniques: pd.Index,
    ci: _Interval,
    min_support: int,
    stores: pd.DataFrame | None,
) -> pd.DataFrame:
    table = pd.DataFrame(_group_stats(ev, codes, len(uniques), min_support))
    table["lift_ci_low"], table["lift_ci_high"] = ci
    table["store_id"] = uniques
    names = _most_frequent(codes, _optional(ev, "store_name"), len(uniques))
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
    ev: _Events, events: np.ndarray, event_names: pd.Index, min_support: int
) -> pd.DataFrame:
    width = max(len(event_names), 1)
    positions = ev.frame["position"].to_numpy().astype(np.int64)  # (E,)
    codes, cells = pd.factorize(positions * width + events, sort=True)  # (E,), (C,)
    table = pd.DataFrame(_group_stats(ev, codes, len(cells), min_support))
    table["position"] = cells // width
    table["event"] = event_names[cells % width]
    table = table.sort_values(
        ["position", "lift", "event"], ascending=[True, False, True], na_position="last"
    )
    return table.loc[:, list(EVENT_POSITION_COLUMNS)].reset_index(drop=True)


def _matrix_table(
    ev: _Events, events: np.ndarray, event_names: pd.Index, bucket: np.ndarray, labels: list[str]
) -> pd.DataFrame:
    """Event × bucket cells in event-name then bucket order (``events`` coded in name order)."""
    codes, cells = pd.factorize(events * len(labels) + bucket, sort=True)  # (E,), (C,)
    table = pd.DataFrame(_group_stats(ev, codes, len(cells), min_support=0))
    table["event"] = event_names[cells // len(labels)]
    table["position_bucket"] = np.asarray(labels, dtype=object)[cells % len(labels)]
    return table.loc[:, list(MATRIX_COLUMNS)]
