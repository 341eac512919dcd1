"""The four-panel attribution figure: right panels, right bars, robust to empty input, atomic."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from eventlift.exceptions import ConfigError, DataError
from eventlift.report.plots import (
    PANEL_TITLES,
    build_attribution_figure,
    plot_attribution_panels,
)

BUCKETS = ["1-5", "6-10", "11-20", "21-50", "51+"]


def _tables(n_events: int = 20, *, with_ci: bool = True) -> dict[str, pd.DataFrame]:
    """Tables shaped like the analysis stage's, with ``e0`` the most negative event."""
    rng = np.random.default_rng(0)
    events = [f"e{index}" for index in range(n_events)]
    lift = np.linspace(0.01, 0.2, n_events) * np.where(np.arange(n_events) % 2, 1, -1)
    lift[0] = -0.5
    event_type = pd.DataFrame(
        {
            "event": events,
            "n_events": 100,
            "n_sessions": 40,
            "attr_converted": rng.uniform(0, 0.3, n_events),
            "attr_not_converted": rng.uniform(0, 0.3, n_events),
            "lift": lift,
            "lift_ci_low": lift - 0.02 if with_ci else np.nan,
            "lift_ci_high": lift + 0.02 if with_ci else np.nan,
            "lift_length_adjusted": lift * 5,
            "low_support": np.arange(n_events) % 3 == 0,
        }
    )
    position = pd.DataFrame(
        {
            "position_bucket": BUCKETS,
            "n_events": [50, 40, 30, 10, 0],
            "attr_converted": [0.2, 0.15, 0.1, 0.05, np.nan],
            "attr_not_converted": [0.1, 0.12, 0.1, 0.08, np.nan],
            "lift": [0.1, 0.03, 0.0, -0.03, np.nan],
            "lift_ci_low": [0.05, 0.0, -0.02, -0.05, np.nan],
            "lift_ci_high": [0.15, 0.06, 0.02, -0.01, np.nan],
            "lift_length_adjusted": [0.5, 0.1, 0.0, -0.2, np.nan],
            "low_support": [False, False, False, True, True],
        }
    )
    cells = [(event, bucket) for event in events for bucket in BUCKETS[:4]]
    matrix = pd.DataFrame(cells, columns=["event", "position_bucket"]).assign(
        n_events=5,
        attr_mean=0.1,
        attr_converted=0.12,
        attr_not_converted=0.08,
        lift=rng.normal(0, 0.1, len(cells)),
    )
    return {"event_type": event_type, "position": position, "event_position_matrix": matrix}


def _ytick_labels(ax) -> list[str]:
    return [label.get_text() for label in ax.get_yticklabels()]


def test_figure_has_four_titled_panels_and_the_mode():
    figure = build_attribution_figure(_tables(), "with_funnel", 15)
    assert len(figure.axes) == 4
    assert [ax.get_title() for ax in figure.axes] == list(PANEL_TITLES)
    assert "with_funnel" in figure.get_suptitle()


def test_event_panel_shows_top_n_by_absolute_lift_sorted_by_lift():
    tables = _tables(20)
    lift_ax, _, split_ax, heat_ax = build_attribution_figure(tables, "no_funnel", 5).axes
    bars = lift_ax.containers[0]
    assert len(bars) == 5
    # largest |lift|: e0 (-0.5), e19 (+0.2), e18 (-0.19), e17 (+0.18), e16 (-0.17)
    assert _ytick_labels(lift_ax) == ["e19", "e17", "e16", "e18", "e0"]
    widths = [patch.get_width() for patch in bars]
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] == pytest.approx(-0.5)
    assert bars[0].get_facecolor() != bars[-1].get_facecolor()  # positive vs negative colour
    # e0 is under the minimum support (index % 3 == 0): hatched and faded; e19 is not
    assert bars[-1].get_hatch() == "//"
    assert bars[0].get_hatch() is None
    # converted vs not: two bar groups over the same events
    assert [len(container) for container in split_ax.containers] == [5, 5]
    assert _ytick_labels(split_ax) == _ytick_labels(lift_ax)
    # heatmap rows are the same events, columns the five buckets, 51+ blank
    values = heat_ax.images[0].get_array()
    assert values.shape == (5, 5)
    assert values.mask[:, 4].all() and not values.mask[:, :4].any()


def test_confidence_intervals_drawn_only_where_known():
    with_ci = build_attribution_figure(_tables(), "no_funnel", 15).axes[0]
    without_ci = build_attribution_figure(_tables(with_ci=False), "no_funnel", 15).axes[0]
    assert len(with_ci.containers) == 2  # bars + error bars
    assert len(without_ci.containers) == 1  # bars only


def test_position_panel_keeps_every_bucket_in_order():
    position_ax = build_attribution_figure(_tables(), "no_funnel").axes[1]
    assert [label.get_text() for label in position_ax.get_xticklabels()] == BUCKETS
    heights = [patch.get_height() for patch in position_ax.containers[0]]
    assert heights == pytest.approx([0.1, 0.03, 0.0, -0.03, 0.0])  # empty bucket: no bar
    assert len(position_ax.get_lines()) >= 2  # mean attribution of each outcome


def test_heatmap_colours_are_centred_on_zero():
    heat_ax = build_attribution_figure(_tables(), "no_funnel").axes[3]
    norm = heat_ax.images[0].norm
    assert norm.vmin == pytest.approx(-norm.vmax)
    assert len(heat_ax.child_axes) == 1  # the colorbar, inside the panel


def test_heatmap_buckets_sorted_by_first_position_without_position_table():
    tables = _tables(3)
    tables["event_type"] = tables["event_type"].iloc[0:0]
    tables["position"] = tables["position"].iloc[0:0]
    tables["event_position_matrix"] = tables["event_position_matrix"].iloc[::-1]
    heat_ax = build_attribution_figure(tables, "no_funnel").axes[3]
    labels = [label.get_text() for label in heat_ax.get_xticklabels()]
    assert labels == ["1-5", "6-10", "11-20", "21-50"]
    assert heat_ax.images[0].get_array().shape == (3, 4)


@pytest.mark.parametrize(
    "tables",
    [
        {},
        {name: frame.iloc[0:0] for name, frame in _tables().items()},
        {name: frame.iloc[:1] for name, frame in _tables().items()},
        {
            name: frame.assign(**{c: np.nan for c in frame.columns if "attr" in c or "lift" in c})
            for name, frame in _tables().items()
        },
    ],
    ids=["no-tables", "empty-tables", "single-event", "all-nan"],
)
def test_degenerate_tables_still_give_a_picture(tables, tmp_path):
    path = plot_attribution_panels(tables, tmp_path / "plot.png", mode="no_funnel")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = build_attribution_figure(tables, "no_funnel")
    assert [ax.get_title() for ax in figure.axes] == list(PANEL_TITLES)


def test_no_data_panels_say_so():
    figure = build_attribution_figure({}, "no_funnel")
    for ax in figure.axes:
        assert [text.get_text() for text in ax.texts] == ["no data"]


def test_png_is_written_atomically_with_sensible_size(tmp_path):
    import matplotlib.pyplot as plt

    target = tmp_path / "plots" / "attention_attribution_analysis_no_funnel.png"
    returned = plot_attribution_panels(_tables(), target, mode="no_funnel", top_n=10)
    assert returned == target
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1600, 1200)  # IHDR width, height
    assert 30_000 < len(data) < 2_000_000
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left
    assert plt.get_fignums() == []  # nothing left open in pyplot


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "plot.png"
    target.write_bytes(b"previous")

    def broken_save(self, fname, **kwargs):
        with open(fname, "wb") as handle:
            handle.write(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_save)
    with pytest.raises(OSError, match="disk full"):
        plot_attribution_panels(_tables(), target, mode="no_funnel")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_table_without_needed_column_is_named():
    tables = _tables()
    tables["position"] = tables["position"].drop(columns="lift")
    with pytest.raises(DataError, match=r"position table lacks column\(s\) \['lift'\]"):
        build_attribution_figure(tables, "no_funnel")


def test_top_n_must_be_positive():
    with pytest.raises(ConfigError, match="top_n must be a positive number of event types; got 0"):
        build_attribution_figure(_tables(), "no_funnel", 0)
