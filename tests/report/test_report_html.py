"""The HTML report: every section and row, offline, escaped, atomic, and clear errors."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from eventlift.core.atomic import atomic_path
from eventlift.exceptions import ConfigError, DataError, EmptyInputError
from eventlift.report import html as report_html
from eventlift.report.html import REPORT_NAME, build_report
from support.reports import (
    COMPARISON,
    EVIL_EVENT,
    EVIL_STORE,
    EVIL_STORE_ID,
    EVIL_VERDICT,
    run_folder,
)

MODE = "no_funnel"
SECTIONS = (
    "warnings",  # the run is small: too few conversions for a reliable AUC
    "facts",
    "metrics",
    "leakage",
    "event_type",
    "position",
    "store",
    "event_position",
    "plot",
    "faithfulness",
    "triangulation",
    "rank_agreement",
)


class Page(HTMLParser):
    """The parts of the report the tests look at: tables under each heading, links, images."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.tables: dict[str, list[list[list[str]]]] = {}  # last heading id -> tables -> rows
        self.texts: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.tags: list[str] = []
        self._heading = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(source)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
            if name == "id":
                self.ids.append(value)
                if tag in ("h3", "section"):
                    self._heading = value
        if tag == "table":
            self.tables.setdefault(self._heading, []).append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._heading][-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, heading: str, index: int = 0) -> list[dict[str, str]]:
        """The ``index``-th table under ``heading`` as header -> cell dicts."""
        header, *rows = self.tables[heading][index]
        return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return run_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def source(folder) -> str:
    return build_report(folder).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(source) -> Page:
    return Page(source)


def _csv(folder: Path, stem: str) -> pd.DataFrame:
    text = {c: "string" for c in ("event", "store_id", "store_name", "position_bucket")}
    path = folder / "outputs" / f"{stem}_{MODE}.csv"
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=text)


def _summary(folder: Path) -> dict:
    return json.loads((folder / "outputs" / f"run_summary_{MODE}.json").read_text())


def _number(value: float) -> str:
    """How the report shows a measured number."""
    return "–" if pd.isna(value) else f"{value:.4g}"


def _count(value: int) -> str:
    return f"{int(value):,}"


def _check_rows(shown: list[dict[str, str]], expected: pd.DataFrame, key: str, label: str):
    """Each shown row carries the CSV row's lift, interval, support and flag."""
    assert [row[label] for row in shown] == expected[key].astype(str).tolist()
    for row, record in zip(shown, expected.to_dict("records"), strict=True):
        assert row["lift"] == _number(record["lift"])
        assert row["events"] == _count(record["n_events"])
        assert row["low support"] == ("yes" if record["low_support"] else "no")
        if "lift_ci_low" in record:
            interval = f"[{_number(record['lift_ci_low'])}, {_number(record['lift_ci_high'])}]"
            assert row["95 % interval"] == ("–" if pd.isna(record["lift_ci_low"]) else interval)


def test_report_has_every_section_in_order(page):
    assert page.ids[:2] == ["comparison", MODE]
    assert [i for i in page.ids if i.startswith(MODE + "-")] == [f"{MODE}-{k}" for k in SECTIONS]


def test_event_type_and_position_tables_show_every_row(folder, page):
    _check_rows(
        page.table(f"{MODE}-event_type"), _csv(folder, "event_type_attribution"), "event", "event"
    )
    positions = _csv(folder, "position_attribution")
    assert len(positions) == 5  # every bucket, empty ones included
    _check_rows(page.table(f"{MODE}-position"), positions, "position_bucket", "positions")


def test_long_tables_show_their_top_rows_by_lift_and_say_how_many(folder, page, source):
    event_position = _csv(folder, "event_position_attribution")
    assert len(event_position) > 25
    top = event_position.sort_values("lift", ascending=False, kind="stable").head(25)
    shown = page.table(f"{MODE}-event_position")
    _check_rows(shown, top, "event", "event")
    assert [row["position"] for row in shown] == [_count(p) for p in top["position"]]
    assert (
        f"Top 25 rows by lift of the {len(event_position)} rows in "
        f"outputs/event_position_attribution_{MODE}.csv." in source
    )
    stores = _csv(folder, "store_attribution")
    assert len(stores) <= 25
    _check_rows(page.table(f"{MODE}-store"), stores, "store_id", "store")
    assert f"All {len(stores)} rows of outputs/store_attribution_{MODE}.csv." in source


def test_run_facts_metrics_and_baselines(folder, page):
    summary = _summary(folder)
    facts = {row["fact"]: row["value"] for row in page.table(f"{MODE}-facts")}
    counts = summary["counts"]
    assert facts["rows read"] == _count(counts["rows_read"])
    assert facts["converted sessions"] == _count(counts["converted_sessions"])
    assert facts["attribution method"] == "grad_x_input"
    drops = {row["reason"]: row["count"] for row in page.table(f"{MODE}-facts", 1)}
    assert drops == {k: _count(v) for k, v in counts["dropped_rows"].items()}
    assert drops["at_or_after_conversion"] != "0"  # the conversions themselves
    splits = {row[""]: row for row in page.table(f"{MODE}-facts", 3)}
    assert splits["test"]["sessions"] == _count(counts["sessions_by_split"]["test"]["sessions"])

    models = {row["model"].removesuffix(" (chosen on validation)"): row for row in
              page.table(f"{MODE}-metrics")}  # fmt: skip
    assert list(models) == ["transformer", "logistic", "lightgbm"]
    assert models["transformer"]["test AUC"] == _number(summary["metrics"]["test_auc"])
    assert models["logistic"]["test AUC"] == _number(summary["baselines"]["logistic"]["test_auc"])
    verdict = summary["baseline_verdict"]
    marked = [row["model"] for row in page.table(f"{MODE}-metrics") if "chosen" in row["model"]]
    assert marked == [f"{verdict['baseline']} (chosen on validation)"]
    # "good" decides the label, so the bag-of-events baseline is perfect and one epoch is not
    assert verdict["better_than_counting"] is False
    assert "Not better than counting on this log" in "".join(page.texts)


def test_leakage_findings_carry_their_figures_and_fix(folder, page):
    findings = _summary(folder)["leakage"]
    assert findings  # "good" gives the label away
    shown = page.table(f"{MODE}-leakage")
    assert [row["event"] for row in shown] == [finding["event"] for finding in findings]
    for row, finding in zip(shown, findings, strict=True):
        assert row["presence AUC"] == _number(finding["auc"])
        assert row["named by"] == ", ".join(finding["rules"])
        assert row["fix"] == finding["fix"]
        assert row["evidence"] == finding["reason"]


def test_faithfulness_and_triangulation(folder, page):
    report = _summary(folder)["faithfulness"]
    facts = {row["fact"]: row["value"] for row in page.table(f"{MODE}-faithfulness")}
    assert facts["aopc deletion"] == _number(report["aopc_deletion"])
    assert facts["random aopc deletion"] == _number(report["random_aopc_deletion"])
    assert facts["ratio vs random"] == _number(report["ratio_vs_random"])
    assert facts["flagged"] == ("yes" if report["flagged"] else "no")
    curves = page.table(f"{MODE}-faithfulness", 1)
    assert [row["deletion curve"] for row in curves] == [
        _number(v) for v in report["deletion_curve"]
    ]

    triangulation = _csv(folder, "triangulation")
    shown = page.table(f"{MODE}-triangulation")
    assert [row["event"] for row in shown] == triangulation["event"].tolist()
    assert [row["markov removal"] for row in shown] == [
        _number(v) for v in triangulation["markov_removal"]
    ]
    agreement = page.table(f"{MODE}-rank_agreement")
    assert len(agreement) == 7
    assert agreement[0]["method"] == "transformer_lift"
    assert agreement[0]["transformer lift"] == "1"


def test_comparison_is_shown_when_present(page):
    texts = "".join(page.texts)
    assert EVIL_VERDICT in texts
    rows = page.table("comparison")
    assert [row["mode"] for row in rows] == ["no_funnel", "with_funnel"]
    assert rows[1]["test_auc"] == "0.9812"
    facts = {row["fact"]: row["value"] for row in page.table("comparison", 1)}
    assert facts["non funnel rank correlation"] == str(COMPARISON["non_funnel_rank_correlation"])
    assert "ranks" not in facts  # a list of records gets a table of its own
    ranks = page.table("comparison", 2)
    assert [(row["event"], row["rank_with_funnel"]) for row in ranks] == [
        ("view", "4"),
        ("click", "5"),
    ]


def test_page_is_offline(page, source):
    links = [value for tag, name, value in page.attributes if name in ("src", "href")]
    assert links  # the nav links and the plot
    assert all(value.startswith(("#", "data:image/png;base64,")) for value in links)
    assert not re.search(r"https?://|url\(|@import|//[a-z]", source.split("base64,")[0])
    assert "http://" not in source and "https://" not in source
    policy = next(v for t, n, v in page.attributes if n == "content" and "default-src" in v)
    assert "default-src 'none'" in policy and "img-src data:" in policy


def test_plot_is_inlined_as_a_png_that_decodes(folder, page):
    sources = [value for tag, name, value in page.attributes if tag == "img" and name == "src"]
    assert len(sources) == 1
    data = base64.b64decode(sources[0].removeprefix("data:image/png;base64,"), validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 800 <= width <= 4000 and 600 <= height <= 4000
    assert data == (folder / "plots" / f"attention_attribution_analysis_{MODE}.png").read_bytes()


def test_planted_markup_is_escaped_and_shown_as_text(page, source):
    for planted in (EVIL_EVENT, EVIL_STORE, EVIL_VERDICT):
        assert planted not in source
    assert "&lt;script&gt;window.__pwned = 1; alert(&quot;x&quot;)&lt;/script&gt;" in source
    assert (
        "&lt;/script&gt;&lt;img src=x onerror=&quot;window.__pwned = 2&quot;&gt; Fish &amp; Chips"
        in source
    )
    assert source.count("<script") == 1 and source.count("</script>") == 1  # the page's own
    assert page.tags.count("img") == 1 and page.tags.count("script") == 1
    assert not any(name.startswith("on") for _, name, _ in page.attributes)
    events = [row["event"] for row in page.table(f"{MODE}-event_type")]
    assert EVIL_EVENT in events
    stores = {row["store"]: row["name"] for row in page.table(f"{MODE}-store")}
    assert stores["st1"] == EVIL_STORE and EVIL_STORE_ID in stores


def _copy(folder: Path, target: Path) -> Path:
    """A copy of the files the report reads."""
    for sub in ("outputs", "plots"):
        shutil.copytree(
            folder / sub, target / sub, ignore=shutil.ignore_patterns("*.parquet", "*.safetensors")
        )
    shutil.copy(folder / "comparison.json", target / "comparison.json")
    return target


def test_modes_default_to_the_summaries_present_no_funnel_first(folder, tmp_path):
    target = _copy(folder, tmp_path / "modes")
    for other in ("with_funnel", "alt"):
        for path in [*target.glob(f"*/*_{MODE}.*")]:
            shutil.copy(path, path.with_name(path.name.replace(MODE, other)))
    (target / "comparison.json").unlink()
    page = Page(build_report(target).read_text())
    sections = [i for i in page.ids if "-" not in i]
    assert sections == ["no_funnel", "with_funnel", "alt"]  # no comparison without its file
    assert f"alt-{SECTIONS[-1]}" in page.ids
    only = Page(build_report(target, ["with_funnel"]).read_text())
    assert [i for i in only.ids if "-" not in i] == ["with_funnel"]


def test_write_goes_through_a_temporary_file_and_is_repeatable(folder, tmp_path, monkeypatch):
    target = _copy(folder, tmp_path / "copy")
    written: list[tuple[Path, int]] = []

    @contextmanager
    def spy(path):
        with atomic_path(path) as temporary:
            yield temporary
            written.append((temporary, temporary.stat().st_ino))

    monkeypatch.setattr(report_html, "atomic_path", spy)
    report = build_report(target)
    assert report == target / REPORT_NAME
    ((temporary, inode),) = written
    assert temporary.parent == target and temporary != report and not temporary.exists()
    assert report.stat().st_ino == inode  # renamed into place, not rewritten
    assert report.read_bytes() == build_report(str(target)).read_bytes()  # same inputs, same page

    def broken(*args):
        raise RuntimeError("rendering failed")

    before = report.read_bytes()
    monkeypatch.setattr(report_html, "_page", broken)
    with pytest.raises(RuntimeError):
        build_report(target)
    assert report.read_bytes() == before  # a failed build leaves the previous report
    assert sorted(p.name for p in target.iterdir()) == [
        "comparison.json",
        "outputs",
        "plots",
        REPORT_NAME,
    ]


def test_folder_without_summaries_names_the_folder_and_the_fix(tmp_path):
    (tmp_path / "outputs").mkdir()
    with pytest.raises(EmptyInputError) as error:
        build_report(tmp_path)
    assert str(tmp_path) in str(error.value)
    assert "run_summary_<mode>.json" in str(error.value)
    assert "eventlift run CONFIG" in str(error.value)
    assert not (tmp_path / REPORT_NAME).exists()
    with pytest.raises(EmptyInputError, match="does not exist"):
        build_report(tmp_path / "missing")


def test_bad_modes(folder):
    with pytest.raises(EmptyInputError, match=r"run_summary_with_funnel\.json.*no_funnel"):
        build_report(folder, ["with_funnel"])
    with pytest.raises(ConfigError, match="non-empty list"):
        build_report(folder, [])
    with pytest.raises(ConfigError, match="non-empty list"):
        build_report(folder, "no_funnel")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("relative", "content", "message"),
    [
        (f"outputs/run_summary_{MODE}.json", "{not json", f"Cannot read .*run_summary_{MODE}.json"),
        (f"outputs/run_summary_{MODE}.json", "[1, 2]", "holds a list, not a JSON object"),
        (f"outputs/run_summary_{MODE}.json", json.dumps({"counts": 3}), "'counts' is a int"),
        (f"outputs/run_summary_{MODE}.json", json.dumps({"leakage": ["x"]}), "'leakage' should be"),
        (f"outputs/event_type_attribution_{MODE}.csv", "", "Cannot read the table"),
        (f"outputs/event_type_attribution_{MODE}.csv", "event,lift\na,1\n", "lacks column"),
        (
            f"outputs/position_attribution_{MODE}.csv",
            "position_bucket,n_events,lift,lift_ci_low,lift_ci_high,low_support\n1-5,x,1,0,2,no\n",
            "non-numeric values in column 'n_events'",
        ),
        (f"plots/attention_attribution_analysis_{MODE}.png", "GIF89a", "is not a PNG image"),
        ("comparison.json", json.dumps({"verdict": 1}), "comparison .* is malformed"),
        ("comparison.json", json.dumps({"rows": [1]}), "comparison .* is malformed"),
    ],
)
def test_malformed_inputs_name_the_file_and_the_fix(folder, tmp_path, relative, content, message):
    target = _copy(folder, tmp_path / "bad")
    (target / relative).write_text(content)
    with pytest.raises(DataError, match=message) as error:
        build_report(target)
    assert Path(relative).name in str(error.value)
    assert "Rerun" in str(error.value)


def test_missing_table_names_the_file(folder, tmp_path):
    target = _copy(folder, tmp_path / "gap")
    (target / "outputs" / f"store_attribution_{MODE}.csv").unlink()
    with pytest.raises(DataError, match=f"store_attribution_{MODE}.csv is missing. Rerun"):
        build_report(target)
    (target / "outputs" / f"triangulation_{MODE}.csv").unlink()  # optional: no error of its own
    (target / "plots" / f"attention_attribution_analysis_{MODE}.png").unlink()
    shutil.copy(folder / "outputs" / f"store_attribution_{MODE}.csv", target / "outputs")
    source = build_report(target).read_text()
    assert f"{MODE}-triangulation" not in Page(source).ids and "<img" not in source
    assert "wrote no plot" in source
