"""HTML fragments of the report: tables, facts and the sections of one mode.

Every value that comes from data, a config or a path passes through :func:`text` (that is,
:func:`html.escape`) before it reaches the page, so an event or store named ``<script>…</script>``
is shown as text and never runs. The fragments are plain HTML tables, readable without
JavaScript; numeric cells carry their raw value in ``data-sort`` for the optional sorting script.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from eventlift.report.table_specs import CI, TABLES, TableSpec

__all__ = [
    "ModeInputs",
    "comparison_section",
    "format_value",
    "mode_section",
    "text",
]

WRAP_AFTER = 40  # characters; shorter cells stay on one line so that intervals read at a glance
METRICS = (
    ("test_auc", "test AUC"),
    ("test_pr_auc", "test PR AUC"),
    ("test_log_loss", "test log loss"),
    ("val_auc", "validation AUC"),
)
FAITHFULNESS = (
    "method",
    "n_sessions",
    "aopc_deletion",
    "random_aopc_deletion",
    "ratio_vs_random",
    "aopc_insertion",
    "random_aopc_insertion",
    "flagged",
)
CURVES = ("deletion_curve", "random_deletion_curve", "insertion_curve", "random_insertion_curve")
# table column -> the [columns] role that fills it; a column with no value at all is left out
ROLE_COLUMNS = {"event_category": "event_category", "store_name": "store_name"}
# warning code -> the table whose heading repeats it, next to the rows it explains
TABLE_WARNINGS = {"single_event_type": "event_type"}
MODE_NOTES = {
    "no_funnel": "Funnel events are excluded: the lifts below are the candidate drivers.",
    "with_funnel": "Funnel events are kept: read this mode to see how leakage inflates the AUC "
    "and hides the real drivers, not to pick drivers.",
}


@dataclass(frozen=True)
class ModeInputs:
    """What the report reads for one mode: its summary, its tables (by spec key) and its plot.

    ``files`` maps a table key to the file name shown to the reader; ``plot`` is the PNG as a
    ``data:`` URI, or None when the run wrote no plot.
    """

    mode: str
    summary: Mapping[str, Any]
    tables: Mapping[str, pd.DataFrame]
    files: Mapping[str, str]
    plot: str | None


def text(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape(str(value), quote=True)


def format_value(value: object) -> str:
    """A value as shown in a cell: thousands separators, 4 significant digits, – when missing."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if value is None or pd.isna(value):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def _cell(value: object) -> str:
    """One ``<td>``; finite numbers keep their raw value for sorting, long texts may wrap."""
    number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    shown = format_value(value)
    if number and math.isfinite(value):
        return f'<td data-sort="{float(value)!r}">{text(shown)}</td>'
    wrap = ' class="wrap"' if len(shown) > WRAP_AFTER else ""
    return f"<td{wrap}>{text(shown)}</td>"


def html_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain table (sortable when scripts run) of raw cell values."""
    head = "".join(f'<th scope="col">{text(header)}</th>' for header in headers)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def facts_table(facts: Mapping[str, object]) -> str:
    """Key/value facts as a two-column table, keys made readable."""
    return html_table(("fact", "value"), [(str(k).replace("_", " "), v) for k, v in facts.items()])


def records_table(records: Sequence[Mapping[str, object]]) -> str:
    """Dicts as rows, with the union of their keys (in first-seen order) as columns."""
    columns = list(dict.fromkeys(key for record in records for key in record))
    return html_table(columns, [[record.get(key) for key in columns] for record in records])


def _heading(mode: str, key: str, title: str) -> str:
    return f'<h3 id="{text(mode)}-{text(key)}">{text(title)}</h3>'


def data_table(
    mode: str,
    spec: TableSpec,
    frame: pd.DataFrame,
    file_name: str,
    *,
    mapped: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """One output table, a long one cut to its top rows, saying how many rows the CSV holds.

    ``mapped`` is the run's ``[columns]``: a column filled by a role (:data:`ROLE_COLUMNS`) that
    holds no value is left out with a sentence saying whether the role is unmapped. ``notes``
    are sentences shown under the heading (the warnings about this table).
    """
    heading = _heading(mode, spec.key, spec.title) + "".join(
        f'<p class="warnings">{text(note)}</p>' for note in notes
    )
    if frame.empty:
        return f'{heading}<p class="skipped">{text(f"{file_name} has no rows.")}</p>'
    shown = frame
    note = (
        f"All {len(frame):,} rows of {file_name}."
        if len(frame) > 1
        else f"The one row of {file_name}."
    )
    if spec.top is not None and len(frame) > spec.top:
        shown = frame.sort_values(spec.sort_by, ascending=False, na_position="last", kind="stable")
        shown = shown.head(spec.top)
        note = f"Top {spec.top} rows by {spec.sort_by} of the {len(frame):,} rows in {file_name}."
    columns = [(c, h) for c, h in spec.columns if c in frame.columns or c == CI]
    empty = [(c, h) for c, h in columns if c in ROLE_COLUMNS and frame[c].isna().all()]
    for column, header in empty:
        role = ROLE_COLUMNS[column]
        why = "it holds no value" if (mapped or {}).get(role) else f"no [columns] {role} is mapped"
        note += f" The {header} column is left out: {why}."
    columns = [pair for pair in columns if pair not in empty]
    rows = [
        [_interval(record) if column == CI else record[column] for column, _ in columns]
        for record in shown.to_dict("records")
    ]
    table = html_table([header for _, header in columns], rows)
    return f"{heading}<p>{text(note)}</p>{table}"


def _interval(record: Mapping[str, object]) -> str:
    """``[low, high]`` of the lift, or – when the bootstrap gave none."""
    low, high = record.get("lift_ci_low"), record.get("lift_ci_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return "–"
    return f"[{format_value(low)}, {format_value(high)}]"


def _run_facts(mode: str, summary: Mapping[str, Any]) -> str:
    """Data counts, drops by reason and the attribution settings."""
    counts = summary.get("counts", {})
    scalars = {k: v for k, v in counts.items() if not isinstance(v, Mapping)}
    attribution = summary.get("attribution", {})
    scalars.update({f"attribution {k}": v for k, v in attribution.items()})
    parts = [_heading(mode, "facts", "Run facts"), facts_table(scalars)]
    for key, value in counts.items():
        if not isinstance(value, Mapping) or not value:
            continue
        parts.append(f"<h4>{text(str(key).replace('_', ' '))}</h4>")
        if all(isinstance(inner, Mapping) for inner in value.values()):
            parts.append(records_table([{"": name, **inner} for name, inner in value.items()]))
        elif str(key).startswith("dropped_"):
            parts.append(html_table(("reason", "count"), value.items()))
        else:  # a record such as sessions_derived: its fields, not counts
            parts.append(facts_table(value))
    return "".join(parts)


def _metrics(mode: str, summary: Mapping[str, Any]) -> str:
    """The Transformer's test metrics beside the baselines', and whether it beats them."""
    metrics, baselines = summary.get("metrics", {}), summary.get("baselines", {})
    models = {"transformer": metrics, **baselines}
    rows = [
        [
            f"{name} (chosen on validation)" if scores.get("chosen") else name,
            *(scores.get(key) for key, _ in METRICS),
        ]
        for name, scores in models.items()
    ]
    table = html_table(["model", *(header for _, header in METRICS)], rows)
    epoch = f" Best epoch: {format_value(metrics.get('best_epoch'))}."
    why = (summary.get("capacity") or {}).get("why")
    if why:  # how the model was sized for this log
        epoch += f" Model: {why}."
    verdict = summary.get("baseline_verdict") or {}
    if verdict.get("message"):
        heading = _heading(mode, "metrics", "Model vs baselines")
        return f"{heading}{table}<p>{text(verdict['message'] + epoch)}</p>"
    ours = metrics.get("test_auc")
    best = max(
        (
            (scores.get("test_auc"), name)
            for name, scores in baselines.items()
            if isinstance(scores.get("test_auc"), numbers.Real)
        ),
        default=None,
    )
    if not isinstance(ours, numbers.Real) or best is None:
        verdict = "Test AUCs of the Transformer and the baselines are not all recorded."
    elif ours > best[0]:
        verdict = f"The Transformer beats every baseline on test AUC ({ours:.3f} vs {best[0]:.3f})."
    else:
        verdict = (
            f"The Transformer does not beat the {best[1]} baseline on test AUC "
            f"({ours:.3f} vs {best[0]:.3f}): read its attributions with that in mind."
        )
    return f"{_heading(mode, 'metrics', 'Model vs baselines')}{table}<p>{text(verdict + epoch)}</p>"


def _leakage(mode: str, summary: Mapping[str, Any]) -> str:
    """The events the leak rules name, each with its evidence and fix, the declaration they
    suggest, and what session length and the last event alone predict (the cut at conversion)."""
    heading = _heading(mode, "leakage", "Likely leaks")
    findings = summary.get("leakage", [])
    if findings:
        columns = (
            ("event", "event"),
            ("rules", "named by"),
            ("auc", "presence AUC"),
            ("n_sessions", "sessions"),
            ("n_converted", "converted"),
            ("reason", "evidence"),
            ("fix", "fix"),
        )
        rows = [[_joined(finding.get(key)) for key, _ in columns] for finding in findings]
        body = html_table([header for _, header in columns], rows)
    else:
        body = (
            "<p>No event leaks by presence, by coming just before the purchase, or by what it "
            "adds to a bag-of-events model.</p>"
        )
    suggestion = summary.get("funnel_suggestion") or {}
    if suggestion:
        body += f"<p>To declare them: <code>{text(suggestion['config'])}</code></p>"
    session_end = summary.get("session_end") or {}
    if session_end:
        said = session_end["reason"][0].upper() + session_end["reason"][1:]
        fix = f" To remove it, {session_end['fix']}." if session_end.get("fix") else ""
        body += f'<p class="session-end">Session end: {text(said + "." + fix)}</p>'
    return heading + body


def _joined(value: Any) -> Any:
    """A list (a finding's rules) as words; anything else as it is."""
    return ", ".join(value) if isinstance(value, list) else value


def _faithfulness(mode: str, summary: Mapping[str, Any]) -> str:
    """AOPC against random orders and the curves behind it; absent when the run skipped it."""
    report = summary.get("faithfulness")
    if not report:
        return ""
    verdict = (
        "Flagged: the attribution ranks events no better than a random order."
        if report.get("flagged")
        else "Deleting events in attribution order lowers the logit faster than a random order."
    )
    facts = {key: report.get(key) for key in FAITHFULNESS if key in report}
    if "completeness_gap" in summary:
        facts["completeness_gap"] = summary["completeness_gap"]
    parts = [_heading(mode, "faithfulness", "Faithfulness"), f"<p>{text(verdict)}</p>"]
    parts.append(facts_table(facts))
    curves = [key for key in CURVES if isinstance(report.get(key), list)]
    fractions = report.get("fractions")
    if curves and isinstance(fractions, list):
        rows = zip(fractions, *(report[key] for key in curves), strict=False)
        headers = ["share of events", *(key.replace("_", " ") for key in curves)]
        parts.append(f"<h4>Curves (mean logit)</h4>{html_table(headers, rows)}")
    return "".join(parts)


def _warnings(mode: str, warnings: Sequence[Mapping[str, Any]]) -> str:
    """The run's warnings in one box at the top of its section; nothing when there are none."""
    if not warnings:
        return ""
    items = "".join(f"<li>{text(warning['message'])}</li>" for warning in warnings)
    box = f'<div class="warnings" id="{text(mode)}-warnings">'
    return f"{box}<strong>Warnings</strong><ul>{items}</ul></div>"


def _left_out(mode: str, spec: TableSpec, skipped: Mapping[str, str]) -> str:
    """The heading of a table the run left out, and the sentence saying why."""
    why = skipped.get(spec.stem, f"This run wrote no {spec.stem} table.")
    return f'{_heading(mode, spec.key, spec.title)}<p class="skipped">Left out: {text(why)}</p>'


def mode_section(inputs: ModeInputs) -> str:
    """Everything the report says about one mode, as one ``<section>``."""
    mode, summary = inputs.mode, inputs.summary
    warnings = summary.get("warnings", [])
    parts = [
        f'<section id="{text(mode)}"><h2>Mode {text(mode)}</h2>',
        f"<p>{text(MODE_NOTES[mode])}</p>" if mode in MODE_NOTES else "",
        _warnings(mode, warnings),
        _run_facts(mode, summary),
        _metrics(mode, summary),
        _leakage(mode, summary),
    ]
    columns = (summary.get("config") or {}).get("columns") or {}
    for spec in TABLES[:4]:
        if spec.key not in inputs.tables:
            parts.append(_left_out(mode, spec, summary.get("skipped_outputs", {})))
            continue
        notes = [w["message"] for w in warnings if TABLE_WARNINGS.get(w.get("code")) == spec.key]
        parts.append(
            data_table(
                mode,
                spec,
                inputs.tables[spec.key],
                inputs.files[spec.key],
                mapped=columns,
                notes=notes,
            )
        )
    parts.append(_heading(mode, "plot", "Attribution panels"))
    if inputs.plot is None:
        parts.append("<p>This run wrote no plot ([output] write_plots is off).</p>")
    else:
        alt = f"Attribution panels of {mode}: event lift, position, converted vs not, heatmap"
        parts.append(f'<img src="{text(inputs.plot)}" alt="{text(alt)}">')
    parts.append(_faithfulness(mode, summary))
    for spec in TABLES[4:]:
        if spec.key in inputs.tables:
            parts.append(data_table(mode, spec, inputs.tables[spec.key], inputs.files[spec.key]))
    parts.append("</section>")
    return "".join(parts)


def comparison_section(comparison: Mapping[str, Any]) -> str:
    """The leakage comparison of both modes: its verdict, its rows and any other facts."""
    parts = ['<section id="comparison"><h2>Leakage comparison: no_funnel vs with_funnel</h2>']
    if comparison.get("verdict"):
        parts.append(f'<p class="verdict">{text(comparison["verdict"])}</p>')
    if comparison.get("rows"):
        parts.append(records_table(comparison["rows"]))
    # Lists of records (e.g. each event's rank in both modes) read best as tables of their own.
    tables = {
        key: value
        for key, value in comparison.items()
        if key not in ("verdict", "rows")
        and isinstance(value, list)
        and value
        and all(isinstance(item, Mapping) for item in value)
    }
    facts = {
        key: value
        for key, value in comparison.items()
        if key not in ("verdict", "rows") and key not in tables
    }
    if facts:
        parts.append(facts_table(facts))
    for key, records in tables.items():
        parts.append(f"<h3>{text(key.replace('_', ' ').capitalize())}</h3>")
        parts.append(records_table(records))
    parts.append("</section>")
    return "".join(parts)
