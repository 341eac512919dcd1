"""A run on a log whose funnel nobody declared names the steps and says how to declare them.

The log is a leak scenario with a chain of three abandoned funnel steps (each alone a presence
AUC of 0.75-0.85, so the presence rule alone names none) and the config declares no funnel at
all: the run summary must carry the ``[sessions] funnel_events`` line, the warning must repeat
it, and the report must show it with each step's evidence. Its cut at conversion (non-converted
sessions browse on) must be flagged with the window fix.
"""

from __future__ import annotations

import dataclasses

import pytest

import eventlift
from eventlift.data.leak_scenarios import SCENARIOS, generate_scenario

SCENARIO = dataclasses.replace(
    SCENARIOS["three_steps_weak"], name="three_steps_browse_on", p_browse_on=0.7
)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("advice")
    config = {
        "columns": {"store_id": None, "event_category": "event_category"},
        "sessions": {"conversion_events": ["purchase"], "funnel_categories": []},
        "model": {"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32, "members": 1},
        "train": {"epochs": 1},
        "attribution": {"bootstrap": 20, "faithfulness_sessions": 0},
        "output": {"dir": str(out), "modes": ["no_funnel"], "write_plots": False},
    }
    return out, eventlift.run(generate_scenario(SCENARIO), config, mode="no_funnel")


def test_the_undeclared_steps_are_suggested_in_the_summary_and_the_warning(result):
    _, run = result
    steps = list(SCENARIO.leaks)
    assert {finding["event"] for finding in run.leakage} == set(steps)
    suggestion = run.summary["funnel_suggestion"]
    assert sorted(suggestion["events"]) == sorted(steps)
    listed = ", ".join(f'"{event}"' for event in suggestion["events"])
    assert suggestion["config"] == f"[sessions] funnel_events = [{listed}]"
    warnings = {warning["code"]: warning["message"] for warning in run.summary["warnings"]}
    assert suggestion["config"] in warnings["no_funnel_events"]
    assert "undeclared_leaks" not in warnings  # said once, in the no-funnel warning


def test_the_cut_is_flagged_and_the_report_shows_the_evidence(result):
    out, run = result
    session_end = run.summary["session_end"]
    assert session_end["flagged"] and session_end["converted_shorter"]
    assert session_end["set_aside"] == sorted(SCENARIO.leaks)
    warnings = {warning["code"]: warning["message"] for warning in run.summary["warnings"]}
    assert 'window = "matched"' in warnings["session_end_cut"]
    page = (out / "report.html").read_text()
    assert "To declare them: <code>[sessions] funnel_events = [" in page
    assert "Session end: On the training split, session length alone gives AUC" in page
    for finding in run.leakage:
        assert "late" in finding["rules"]
        assert "of the converted sessions holding it hold it among their last" in finding["reason"]
