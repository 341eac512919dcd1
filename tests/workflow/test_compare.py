"""The leakage comparison: both modes on the same sessions, the funnel's share, ranks, verdict."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

import eventlift
from eventlift.cli import app
from eventlift.data.readers import read_events
from eventlift.data.synthetic import FUNNEL_EVENTS, generate_events
from eventlift.exceptions import ConfigError
from eventlift.workflow.comparison import compare_modes
from eventlift.workflow.demo import demo_config
from eventlift.workflow.pipeline import run_modes

VERDICT = re.compile(
    r"^Funnel events inflate test AUC from 0\.\d\d to 0\.\d\d and take \d+ % of the attribution "
    r"in converted sessions \(\d+ % overall\); "
    r"(the inflation comes from \w+(, \w+)*; )?"
    r"\w+ (falls from rank 1 to rank \d+|stays at rank 1)\.$"
)
SMALL = {
    "model": {"d_model": 32, "n_heads": 2, "d_ff": 64},
    "train": {"epochs": 3},
    "attribution": {"bootstrap": 20, "faithfulness_sessions": 100},
}


@pytest.fixture(scope="module")
def both_modes(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    events, _ = generate_events(seed=4, n_sessions=2000)
    config = demo_config(out, seed=4, **SMALL)
    results, comparison = run_modes(
        read_events(events, config), config, list(("no_funnel", "with_funnel"))
    )
    return out, config, results, comparison


def test_comparison_rows_match_each_mode(both_modes):
    _, _, results, comparison = both_modes
    rows = comparison.modes.set_index("mode")
    for mode, result in results.items():
        assert rows.loc[mode, "test_auc"] == result.metrics["test_auc"]
        assert rows.loc[mode, "logistic_auc"] == result.baselines["logistic"]["test_auc"]
    assert rows.loc["with_funnel", "test_auc"] > rows.loc["no_funnel", "test_auc"] + 0.1
    assert comparison.funnel_events == sorted(FUNNEL_EVENTS)
    assert set(rows.loc["with_funnel", "likely_leaks"].split(", ")) == set(FUNNEL_EVENTS)
    assert rows.loc["no_funnel", "likely_leaks"] == ""


def test_funnel_share_is_the_funnel_events_part_of_test_attribution(both_modes):
    _, _, results, comparison = both_modes
    test = results["with_funnel"].event_level("test")
    assert set(test["split"]) == {"test"}
    expected = test.loc[test["event"].isin(FUNNEL_EVENTS), "attribution"].sum()
    # normalised scores sum to 1 per session
    assert comparison.funnel_share == pytest.approx(expected / test["session_id"].nunique())
    assert 0 < comparison.funnel_share < 1
    converted = test[test["converted"]]
    in_converted = converted.loc[converted["event"].isin(FUNNEL_EVENTS), "attribution"].sum()
    assert comparison.funnel_share_converted == pytest.approx(
        in_converted / converted["session_id"].nunique()
    )
    assert comparison.funnel_share_converted > comparison.funnel_share


def test_ranks_follow_the_browsing_events_across_modes(both_modes):
    _, _, results, comparison = both_modes
    ranks = comparison.ranks
    assert not ranks["event"].isin(FUNNEL_EVENTS).any()
    clean = results["no_funnel"].tables["event_type"]
    assert ranks["event"].iloc[0] == clean["event"].iloc[0]  # the top lift of no_funnel
    assert ranks["rank_no_funnel"].iloc[0] == 1
    leaky = results["with_funnel"].tables["event_type"].reset_index(drop=True)
    top = ranks["event"].iloc[0]
    assert ranks["rank_with_funnel"].iloc[0] == leaky.index[leaky["event"] == top][0] + 1
    assert -1 <= comparison.rank_correlation <= 1


def test_verdict_and_files(both_modes):
    out, _, _, comparison = both_modes
    assert VERDICT.match(comparison.verdict), comparison.verdict
    payload = json.loads((out / "comparison.json").read_text())
    # the funnel raised test AUC by more than 0.1: the verdict names the steps behind it
    assert payload["auc_gain"] > 0.1
    assert set(payload["responsible_events"]) == set(FUNNEL_EVENTS)
    assert (
        f"the inflation comes from {', '.join(payload['responsible_events'])};"
        in payload["verdict"]
    )
    assert payload["verdict"] == comparison.verdict
    assert [row["mode"] for row in payload["rows"]] == ["no_funnel", "with_funnel"]
    written = pd.read_csv(out / "outputs" / "mode_comparison.csv")
    assert written["event"].tolist() == comparison.ranks["event"].tolist()
    page = (out / "report.html").read_text()
    assert comparison.verdict.split(";")[0] in page
    assert "no_funnel" in page and "with_funnel" in page


def test_compare_needs_both_modes(both_modes):
    _, config, results, _ = both_modes
    with pytest.raises(ConfigError, match="--mode both"):
        compare_modes({"no_funnel": results["no_funnel"]}, config)


def test_compare_command_prints_the_verdict_and_a_single_mode_drops_it(tmp_path):
    events, _ = generate_events(seed=5, n_sessions=1500)
    data = tmp_path / "events.parquet"
    events.to_parquet(data)
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
[input]
path = "{data}"
[columns]
user_id = "user_id"
event_category = "event_category"
store_id = "store_id"
[sessions]
conversion_events = ["order_placed"]
[model]
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 32
[train]
epochs = 2
[attribution]
bootstrap = 0
faithfulness_sessions = 0
[output]
dir = "{tmp_path / "out"}"
database = ""
"""
    )
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(config)])
    assert result.exit_code == 0, result.output
    verdict = json.loads((tmp_path / "out" / "comparison.json").read_text())["verdict"]
    assert " ".join(verdict.split()) in " ".join(result.output.split())
    single = runner.invoke(app, ["run", str(config), "--mode", "no_funnel"])
    assert single.exit_code == 0, single.output
    assert not (tmp_path / "out" / "comparison.json").exists()  # no stale verdict
    page = (tmp_path / "out" / "report.html").read_text()
    assert "inflate test AUC" not in page and "with_funnel" not in page


def test_python_compare_returns_both_results_and_the_verdict(tmp_path):
    events, _ = generate_events(seed=6, n_sessions=1200)
    config = demo_config(tmp_path, seed=6, **SMALL).replace(
        train={"epochs": 1}, attribution={"bootstrap": 0, "faithfulness_sessions": 0}
    )
    results, comparison = eventlift.compare(events, config)
    assert set(results) == {"no_funnel", "with_funnel"}
    assert VERDICT.match(comparison.verdict), comparison.verdict
    assert json.loads((tmp_path / "comparison.json").read_text())["verdict"] == comparison.verdict
    # the first mode's per-event arrays were released once written; its file holds the table
    first, last = results["no_funnel"], results["with_funnel"]
    assert first.encoded is None and first.attribution is None and first.sessions.events.empty
    parquet = first.files["event_level_parquet"]
    with pytest.raises(ConfigError, match=re.escape(str(parquet))):
        first.event_level()
    assert len(pd.read_parquet(parquet)) == first.summary["counts"]["events"]
    assert len(last.event_level()) == last.summary["counts"]["events"]
    assert comparison.funnel_events == last.summary["attribution"]["funnel_events"]
