"""The four-panel attribution picture of one mode.

``plots/attention_attribution_analysis_<mode>.png`` answers at a glance what the tables answer in
rows: which event types lift conversion (with their uncertainty), which positions matter, how the
attribution of each event differs between converted and non-converted sessions, and where in the
session each event matters (event × position heatmap).

The figure is drawn on matplotlib's Agg canvas directly, without ``pyplot``: nothing is registered
in pyplot's global figure list, no backend is switched for the caller, and the figure is freed
with its last reference.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eventlift.core.atomic import atomic_path
from eventlift.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PANEL_TITLES", "build_attribution_figure", "plot_attribution_panels"]

logger = logging.getLogger(__name__)

PANEL_TITLES = (
    "Attribution lift by event type",
    "Position importance",
    "Converted vs not converted",
    "Event × position heatmap",
)
REQUIRED_COLUMNS = {
    "event_type": ("event", "attr_converted", "attr_not_converted", "lift"),
    "position": ("position_bucket", "attr_converted", "attr_not_converted", "lift"),
    "event_position_matrix": ("event", "position_bucket", "lift"),
}
POSITIVE, NEGATIVE = "#2a9d8f", "#e76f51"
CONVERTED, NOT_CONVERTED = "#264653", "#e9c46a"
LOW_SUPPORT_ALPHA, LOW_SUPPORT_HATCH = 0.45, "//"
MAX_LABEL = 40  # characters of an event name shown on an axis
MAX_ANNOTATED_CELLS = 200  # heatmaps up to this size print their values


def plot_attribution_panels(
    tables: dict[str, pd.DataFrame], path: str | Path, *, mode: str, top_n: int = 15
) -> Path:
    """Draw the four attribution panels of one mode and write them as a PNG.

    The file is written under a temporary name in the target folder and then renamed, so a
    reader never sees half an image and a failed run leaves the previous picture in place.

    Parameters
    ----------
    tables
        ``event_type``, ``position`` and ``event_position_matrix`` frames of the analysis stage;
        a missing or empty frame leaves its panel with a "no data" note.
    path
        Where the PNG goes; missing parent folders are created.
    mode
        The mode shown in the figure title (``no_funnel`` or ``with_funnel``).
    top_n
        How many event types (largest absolute lift) the event panels show.

    Returns
    -------
    pathlib.Path
        ``path``, now holding the PNG.
    """
    figure = build_attribution_figure(tables, mode, top_n)
    target = Path(path)
    try:
        with atomic_path(target) as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    finally:
        figure.clear()
    logger.info("Wrote the attribution panels of %s to %s.", mode, target)
    return target


def build_attribution_figure(tables: dict[str, pd.DataFrame], mode: str, top_n: int = 15) -> Figure:
    """Build the 2 × 2 attribution figure without writing it.

    Returns
    -------
    matplotlib.figure.Figure
        Exactly four axes, titled as :data:`PANEL_TITLES` in reading order; the heatmap's
        colorbar is an inset of its panel, not a fifth axes.

    Raises
    ------
    ConfigError
        ``top_n`` is not a positive integer.
    DataError
        A non-empty table lacks a column its panel needs.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ConfigError(f"top_n must be a positive number of event types; got {top_n!r}.")
    event_type = _table(tables, "event_type")
    position = _table(tables, "position")
    matrix = _table(tables, "event_position_matrix")

    figure = Figure(figsize=(16, 12), layout="constrained")
    FigureCanvasAgg(figure)
    (lift_ax, position_ax), (split_ax, heat_ax) = figure.subplots(2, 2)
    top = _top_events(event_type, top_n)
    _draw_event_lift(lift_ax, top)
    _draw_position(position_ax, position)
    _draw_converted_split(split_ax, top)
    _draw_heatmap(
        heat_ax, matrix, _heatmap_events(top, matrix, top_n), _bucket_order(position, matrix)
    )
    for ax, title in zip((lift_ax, position_ax, split_ax, heat_ax), PANEL_TITLES, strict=True):
        ax.set_title(title)
    figure.suptitle(f"Attribution analysis — {mode}", fontsize=15)
    return figure


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The frame ``name`` (empty when absent), checked for the columns its panel needs."""
    frame = tables.get(name)
    if frame is None or frame.empty:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS[name]))
    missing = [column for column in REQUIRED_COLUMNS[name] if column not in frame.columns]
    if missing:
        raise DataError(
            f"The {name} table lacks column(s) {missing} needed by its plot; it holds "
            f"{list(frame.columns)}. Pass the table produced by the analysis stage."
        )
    return frame


def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``(N,)`` float64 of ``column`` with missing values as NaN; all NaN when it is absent."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _flags(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``(N,)`` bool of ``column``, False where missing or when the column is absent."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].fillna(False).astype(bool).to_numpy()


def _top_events(event_type: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The ``top_n`` rows with the largest finite ``|lift|``, ordered by lift, highest first."""
    lift = _floats(event_type, "lift")
    finite = event_type.loc[np.isfinite(lift)].assign(_lift=lift[np.isfinite(lift)])
    top = finite.loc[finite["_lift"].abs().sort_values(ascending=False, kind="stable").index]
    return top.head(top_n).sort_values("_lift", ascending=False, kind="stable")


def _label(event: object) -> str:
    """Event name cut to :data:`MAX_LABEL` characters for an axis."""
    text = str(event)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _no_data(ax: Axes) -> None:
    """Mark a panel whose table is empty."""
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _fade_low_support(bars, low_support: np.ndarray) -> None:
    """Hatch and fade the bars of rows under the minimum support."""
    for patch, low in zip(bars.patches, low_support, strict=True):
        if low:
            patch.set_alpha(LOW_SUPPORT_ALPHA)
            patch.set_hatch(LOW_SUPPORT_HATCH)


def _error_extent(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows with a full interval, and the non-negative distances below and above ``value``."""
    shown = np.isfinite(value) & np.isfinite(low) & np.isfinite(high)
    below = np.clip(value[shown] - low[shown], 0.0, None)
    above = np.clip(high[shown] - value[shown], 0.0, None)
    return shown, below, above


def _draw_event_lift(ax: Axes, top: pd.DataFrame) -> None:
    """Horizontal lift bars of the top events, CI whiskers where known, low support hatched."""
    if top.empty:
        _no_data(ax)
        return
    lift = top["_lift"].to_numpy()  # (K,)
    rows = np.arange(len(top))
    bars = ax.barh(rows, lift, color=np.where(lift >= 0, POSITIVE, NEGATIVE))
    low_support = _flags(top, "low_support")
    _fade_low_support(bars, low_support)
    shown, below, above = _error_extent(
        lift, _floats(top, "lift_ci_low"), _floats(top, "lift_ci_high")
    )
    if shown.any():
        ax.errorbar(
            lift[shown], rows[shown], xerr=[below, above], fmt="none", ecolor="black", capsize=3
        )
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_yticks(rows, [_label(event) for event in top["event"]])
    ax.invert_yaxis()
    ax.set_xlabel("lift (mean attribution converted − not converted)")
    if low_support.any():
        ax.text(
            0.99,
            0.01,
            "hatched: low support",
            ha="right",
            va="bottom",
            transform=ax.transAxes,
            fontsize=8,
        )


def _draw_position(ax: Axes, position: pd.DataFrame) -> None:
    """Lift bars per position bucket with the mean attribution of each outcome as lines."""
    if position.empty:
        _no_data(ax)
        return
    lift = _floats(position, "lift")  # (B,)
    columns = np.arange(len(position))
    bars = ax.bar(
        columns,
        np.nan_to_num(lift),
        color=np.where(lift >= 0, POSITIVE, NEGATIVE),
        label="lift",
    )
    _fade_low_support(bars, _flags(position, "low_support"))
    shown, below, above = _error_extent(
        lift, _floats(position, "lift_ci_low"), _floats(position, "lift_ci_high")
    )
    if shown.any():
        ax.errorbar(
            columns[shown], lift[shown], yerr=[below, above], fmt="none", ecolor="black", capsize=3
        )
    ax.plot(
        columns,
        _floats(position, "attr_converted"),
        "o-",
        color=CONVERTED,
        label="mean attribution, converted",
    )
    ax.plot(
        columns,
        _floats(position, "attr_not_converted"),
        "s--",
        color=NOT_CONVERTED,
        label="mean attribution, not converted",
    )
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(columns, position["position_bucket"].astype(str).tolist())
    ax.set_xlabel("position bucket")
    ax.set_ylabel("attribution")
    ax.legend(loc="best", fontsize=8)


def _draw_converted_split(ax: Axes, top: pd.DataFrame) -> None:
    """Side-by-side bars of the mean attribution in converted and non-converted sessions."""
    if top.empty:
        _no_data(ax)
        return
    rows = np.arange(len(top))
    height = 0.4
    converted = np.nan_to_num(_floats(top, "attr_converted"))
    not_converted = np.nan_to_num(_floats(top, "attr_not_converted"))
    ax.barh(rows - height / 2, converted, height=height, color=CONVERTED, label="converted")
    ax.barh(
        rows + height / 2, not_converted, height=height, color=NOT_CONVERTED, label="not converted"
    )
    ax.set_yticks(rows, [_label(event) for event in top["event"]])
    ax.invert_yaxis()
    ax.set_xlabel("mean attribution")
    ax.legend(loc="best", fontsize=8)


def _heatmap_events(top: pd.DataFrame, matrix: pd.DataFrame, top_n: int) -> list:
    """Rows of the heatmap: the event panels' events, else the matrix's largest ``|lift|``."""
    if not top.empty:
        return top["event"].tolist()
    strength = (
        matrix.assign(_abs=np.abs(_floats(matrix, "lift")))
        .groupby("event", sort=True)["_abs"]
        .max()
    )
    return strength.sort_values(ascending=False, kind="stable").head(top_n).index.tolist()


def _bucket_order(position: pd.DataFrame, matrix: pd.DataFrame) -> list[str]:
    """Bucket labels in the position table's order, then any others by their first position."""
    known = position["position_bucket"].astype(str).tolist()
    extra = set(matrix["position_bucket"].astype(str)) - set(known)
    return known + sorted(extra, key=_bucket_start)


def _bucket_start(label: str) -> tuple[float, str]:
    """Sort key of a bucket label such as ``"6-10"`` or ``"51+"``: its first number."""
    match = re.match(r"\s*(\d+)", label)
    return (float(match.group(1)) if match else float("inf"), label)


def _draw_heatmap(ax: Axes, matrix: pd.DataFrame, events: list, buckets: list[str]) -> None:
    """Lift of each event in each position bucket, diverging around 0, blank where unknown."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    if matrix.empty or not events or not buckets:
        _no_data(ax)
        return
    cells = (
        matrix.assign(
            position_bucket=matrix["position_bucket"].astype(str), _lift=_floats(matrix, "lift")
        )
        .pivot_table(
            index="event", columns="position_bucket", values="_lift", aggfunc="mean", dropna=False
        )
        .reindex(index=events, columns=buckets)
    )
    values = cells.to_numpy(dtype=np.float64)  # (events, buckets)
    finite = np.isfinite(values)
    scale = float(np.abs(values[finite]).max()) if finite.any() else 1.0
    scale = scale if scale > 0 else 1.0
    colormap = colormaps["RdBu_r"].with_extremes(bad="white")
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap=colormap, norm=Normalize(-scale, scale), aspect="auto"
    )
    if values.size <= MAX_ANNOTATED_CELLS:
        for row, column in zip(*np.nonzero(finite), strict=True):
            value = values[row, column]
            colour = "white" if abs(value) > 0.6 * scale else "black"
            ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(np.arange(len(buckets)), buckets)
    ax.set_yticks(np.arange(len(events)), [_label(event) for event in events])
    ax.set_xlabel("position bucket")
    colorbar_ax = ax.inset_axes([1.02, 0.0, 0.03, 1.0])
    ax.figure.colorbar(image, cax=colorbar_ax, label="lift")
