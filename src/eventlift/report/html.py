"""The self-contained HTML report of an output folder.

An analyst mails the report, opens it offline or attaches it to a ticket, so it is one file: the
plots are inlined as base64 ``data:`` URIs, the styles and the small table-sorting script are
inline, and a Content-Security-Policy allows nothing else. The page therefore makes no network
request, and even a value that slipped past escaping could not run a script: only the page's own
script, pinned by its hash, may run. The page reads well with scripts disabled (plain tables).

The report only reads files a run wrote (``outputs/*_<mode>.csv``, ``outputs/run_summary_<mode>
.json``, ``plots/attention_attribution_analysis_<mode>.png`` and the optional ``comparison.json``),
so it can be rebuilt at any time without the model or the events.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from eventlift.core.atomic import atomic_path
from eventlift.exceptions import ConfigError, DataError, EmptyInputError
from eventlift.report.sections import ModeInputs, comparison_section, mode_section, text
from eventlift.report.table_specs import TABLES, TableSpec

__all__ = ["REPORT_NAME", "build_report"]

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"
MODE_ORDER = ("no_funnel", "with_funnel")  # other modes follow in name order
MODE_NAME = re.compile(r"[A-Za-z0-9_]+")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_COLUMNS = ("event", "event_category", "store_id", "store_name", "position_bucket", "method")
NUMERIC_COLUMNS = ("n_events", "n_sessions", "lift", "lift_ci_low", "lift_ci_high", "position")
SUMMARY_OBJECTS = (
    "counts",
    "metrics",
    "baselines",
    "attribution",
    "session_end",
    "funnel_suggestion",
)

STYLE = (
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2a33;"
    "background:#fff;max-width:1200px;margin:0 auto;padding:0 1rem 3rem}"
    "h2{border-bottom:2px solid #264653;padding-bottom:.2rem;margin-top:2.5rem}"
    "nav a{margin-right:1rem}"
    "table{display:block;overflow-x:auto;border-collapse:collapse;margin:.5rem 0 1rem;"
    "font-variant-numeric:tabular-nums}"
    "th,td{border:1px solid #d5dde2;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "td{white-space:nowrap}td.wrap{white-space:normal;min-width:16rem}"
    "td[data-sort]{text-align:right}th{background:#eef3f5;cursor:pointer}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "img{max-width:100%;height:auto;border:1px solid #d5dde2}.verdict{font-weight:600}"
    ".warnings{background:#fff4e5;border-left:4px solid #e76f51;padding:.4rem 1rem}"
    ".skipped{color:#5c6b75;font-style:italic}"
)
# Click a header to sort by it; numbers by their data-sort value, missing values last.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, index) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var up = th.getAttribute("aria-sort") !== "ascending";
      rows.sort(function (a, b) {
        var x = a.cells[index], y = b.cells[index];
        var u = parseFloat(x.dataset.sort), v = parseFloat(y.dataset.sort);
        if (isNaN(u) !== isNaN(v)) { return isNaN(u) ? 1 : -1; }
        var order = isNaN(u) ? x.textContent.localeCompare(y.textContent) : u - v;
        return up ? order : -order;
      });
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _source_hash(source: str) -> str:
    """The CSP source expression that allows exactly this inline element content."""
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


POLICY = (
    f"default-src 'none'; img-src data:; style-src {_source_hash(STYLE)}; "
    f"script-src {_source_hash(SCRIPT)}; base-uri 'none'; form-action 'none'"
)


def build_report(out_dir: str | Path, modes: list[str] | None = None) -> Path:
    """Write ``<out_dir>/report.html`` from the files a run left in ``out_dir``.

    Parameters
    ----------
    out_dir
        The run's output folder (``[output] dir``).
    modes
        Modes to report, in this order; by default every mode with a run summary, ``no_funnel``
        first. ``comparison.json`` at the folder root is shown when present.

    Returns
    -------
    pathlib.Path
        The report, written under a temporary name and then renamed into place.

    Raises
    ------
    EmptyInputError
        The folder does not exist or holds no run summary (of the requested modes).
    DataError
        A summary, table, plot or comparison is missing or cannot be read.
    ConfigError
        ``modes`` is not a non-empty list of mode names.
    """
    root = Path(out_dir)
    if not root.is_dir():
        raise EmptyInputError(
            f"The output folder {root} does not exist. Pass the folder a run wrote to "
            "([output] dir), e.g. after `eventlift run CONFIG` or `eventlift demo --out DIR`."
        )
    inputs = [_load_mode(root, mode) for mode in _modes(root, modes)]
    comparison = _load_comparison(root / "comparison.json")
    target = root / REPORT_NAME
    with atomic_path(target) as temporary:
        temporary.write_text(_page(root, inputs, comparison), encoding="utf-8")
    logger.info("Wrote the report of %s to %s.", ", ".join(i.mode for i in inputs), target)
    return target


def _modes(root: Path, modes: list[str] | None) -> list[str]:
    """The requested modes, checked against the run summaries present."""
    summaries = (root / "outputs").glob("run_summary_*.json")
    found = [path.stem.removeprefix("run_summary_") for path in summaries]
    found = sorted(
        (mode for mode in found if MODE_NAME.fullmatch(mode)),
        key=lambda mode: (MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER), mode),
    )
    if modes is None:
        if not found:
            raise EmptyInputError(
                f"The folder {root} holds no run summary (outputs/run_summary_<mode>.json), so "
                "there is nothing to report. Run `eventlift run CONFIG` (or `eventlift demo`) "
                "first, or pass the output folder of a finished run."
            )
        return found
    if isinstance(modes, str) or not modes:
        raise ConfigError(
            f"modes must be a non-empty list of mode names such as ['no_funnel']; got {modes!r}."
        )
    missing = [mode for mode in modes if mode not in found]
    if missing:
        raise EmptyInputError(
            f"The folder {root} holds no outputs/run_summary_{missing[0]}.json; modes with a "
            f"summary: {found or 'none'}. Run that mode first, or leave modes out to report "
            "the modes present."
        )
    return list(dict.fromkeys(modes))


def _load_mode(root: Path, mode: str) -> ModeInputs:
    """Read and check the summary, tables and plot of one mode."""
    summary = _read_summary(root / "outputs" / f"run_summary_{mode}.json", mode)
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    for spec in TABLES:
        if spec.stem in summary["skipped_outputs"]:  # left out by the run, said why
            continue
        path = root / "outputs" / f"{spec.stem}_{mode}.csv"
        frame = _read_table(path, spec, mode)
        if frame is not None:
            tables[spec.key] = frame
            files[spec.key] = f"outputs/{path.name}"
    plot = _read_plot(root / "plots" / f"attention_attribution_analysis_{mode}.png", mode)
    return ModeInputs(mode, summary, tables, files, plot)


def _rerun(mode: str) -> str:
    return f"Rerun the {mode} mode (`eventlift run CONFIG --mode {mode}`) to rewrite it."


def _read_json(path: Path, fix: str) -> Any:
    """Parse a JSON file, naming the file and the fix when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"Cannot read {path}: {error}. {fix}") from error


def _read_summary(path: Path, mode: str) -> dict[str, Any]:
    """The run summary, with the parts the report shows checked for their JSON types."""
    summary = _read_json(path, _rerun(mode))
    problems = []
    if not isinstance(summary, dict):
        problems.append(f"the file holds a {type(summary).__name__}, not a JSON object")
    else:
        problems += [
            f"{key!r} is a {type(summary[key]).__name__}, not an object"
            for key in SUMMARY_OBJECTS
            if not isinstance(summary.setdefault(key, {}), dict)
        ]
        baselines = summary.get("baselines")
        if isinstance(baselines, dict) and not all(isinstance(v, dict) for v in baselines.values()):
            problems.append("'baselines' should map each baseline to its metrics")
        leakage = summary.setdefault("leakage", [])
        if not isinstance(leakage, list) or not all(isinstance(f, dict) for f in leakage):
            problems.append("'leakage' should be a list of findings (objects)")
        for key, field in (("session_end", "reason"), ("funnel_suggestion", "config")):
            entry = summary.get(key)
            if isinstance(entry, dict) and entry and not isinstance(entry.get(field), str):
                problems.append(f"{key!r} should hold a {field!r} sentence")
        if not isinstance(summary.get("faithfulness") or {}, dict):
            problems.append("'faithfulness' should be an object")
        skipped = summary.setdefault("skipped_outputs", {})
        if not isinstance(skipped, dict) or not all(isinstance(v, str) for v in skipped.values()):
            problems.append("'skipped_outputs' should map each left-out table to a sentence")
        warnings = summary.setdefault("warnings", [])
        if not isinstance(warnings, list) or not all(
            isinstance(w, dict) and isinstance(w.get("message"), str) for w in warnings
        ):
            problems.append("'warnings' should be a list of objects with a 'message'")
    if problems:
        raise DataError(
            f"The run summary {path} is malformed: {'; '.join(problems)}. {_rerun(mode)}"
        )
    return summary


def _read_table(path: Path, spec: TableSpec, mode: str) -> pd.DataFrame | None:
    """One CSV with its text columns kept as text ("NA" is an event name, not a gap)."""
    if not path.is_file():
        if spec.optional:
            return None
        raise DataError(f"The table {path} is missing. {_rerun(mode)}")
    try:
        frame = pd.read_csv(
            path,
            keep_default_na=False,
            na_values=[""],
            dtype={column: "string" for column in TEXT_COLUMNS},
        )
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"Cannot read the table {path}: {error}. {_rerun(mode)}") from error
    missing = [column for column in spec.required if column not in frame.columns]
    if missing:
        raise DataError(
            f"The table {path} lacks column(s) {missing}; it holds {list(frame.columns)}. "
            + _rerun(mode)
        )
    checked = NUMERIC_COLUMNS if len(frame) else ()  # a header only is shown as "no rows"
    for column in checked:
        if column in frame.columns and not pd.api.types.is_numeric_dtype(frame[column]):
            values = frame[column][pd.to_numeric(frame[column], errors="coerce").isna()]
            raise DataError(
                f"The table {path} has non-numeric values in column {column!r}, e.g. "
                f"{values.dropna().head(3).tolist()}. {_rerun(mode)}"
            )
    return frame


def _read_plot(path: Path, mode: str) -> str | None:
    """The PNG as a ``data:`` URI, or None when the run wrote no plot."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise DataError(f"The plot {path} is not a PNG image. {_rerun(mode)}")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _load_comparison(path: Path) -> Mapping[str, Any] | None:
    """The leakage comparison of both modes, or None when it was not run."""
    if not path.is_file():
        return None
    fix = "Rerun `eventlift compare CONFIG` to rewrite it, or delete it."
    comparison = _read_json(path, fix)
    rows = comparison.get("rows", []) if isinstance(comparison, dict) else None
    if (
        not isinstance(comparison, dict)
        or not isinstance(comparison.get("verdict", ""), str)
        or not isinstance(rows, list)
        or not all(isinstance(row, dict) for row in rows)
    ):
        raise DataError(
            f"The comparison {path} is malformed: it should be an object with a text 'verdict' "
            f"and 'rows', a list of objects. {fix}"
        )
    return comparison


def _page(root: Path, inputs: list[ModeInputs], comparison: Mapping[str, Any] | None) -> str:
    """The whole document."""
    links = [("comparison", "leakage comparison")] if comparison is not None else []
    links += [(mode.mode, mode.mode) for mode in inputs]
    nav = "".join(f'<a href="#{text(anchor)}">{text(label)}</a>' for anchor, label in links)
    versions = inputs[0].summary.get("versions")
    version = versions.get("eventlift", "unknown") if isinstance(versions, dict) else "unknown"
    body = [comparison_section(comparison)] if comparison is not None else []
    body += [mode_section(mode) for mode in inputs]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{text(POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>eventlift report: {text(root.name or root)}</title>"
        f"<style>{STYLE}</style></head><body><header><h1>eventlift report</h1>"
        f"<p>Output folder <code>{text(root)}</code>, written by eventlift {text(version)}. "
        "Lift is the mean attribution in converted sessions minus that in the others; rows "
        "under the minimum support are marked, not hidden.</p>"
        f"<nav>{nav}</nav></header><main>{''.join(body)}</main>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
