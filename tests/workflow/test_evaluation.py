"""Every method scored against the planted truth: in the demo, and rebuilt by ``evaluate DIR``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from eventlift.analysis.multitouch import CREDIT_COLUMNS
from eventlift.attribution import METHODS
from eventlift.cli import commands as cli
from eventlift.data.synthetic import SyntheticSpec
from eventlift.workflow.demo import run_demo
from eventlift.workflow.evaluation import DEFAULT_SAMPLE, METHOD_RECOVERY_COLUMNS

runner = CliRunner()
SAMPLE = 200
RECOVERY_CSV = ("outputs", "method_recovery_no_funnel.csv")


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    overrides = {
        "model": {"d_model": 32, "n_heads": 2, "d_ff": 64},
        "train": {"epochs": 3},
        "output": {"modes": ["no_funnel"]},
    }
    demo = run_demo(
        out, n_sessions=3000, seed=1, config_overrides=overrides, evaluate_sample=SAMPLE
    )
    return out, demo


def test_demo_scores_every_method_and_rule_on_the_same_sessions(small_demo):
    out, demo = small_demo
    table = demo.method_recovery
    assert list(table.columns) == list(METHOD_RECOVERY_COLUMNS)
    assert table["method"].tolist() == [*METHODS, *CREDIT_COLUMNS]
    assert (table["sessions"] == SAMPLE).all()
    methods = table[table["kind"] == "transformer"].set_index("method")
    assert methods["event_spearman"].between(-1, 1).all()
    assert (methods["signs_checked"] == 10).all()  # the browsing events with |effect| >= 0.1
    assert (methods["signs_agree"] <= methods["signs_checked"]).all()
    assert (methods["sessions_per_second"] > 0).all()
    assert np.isfinite(methods[["aopc_deletion", "random_aopc_deletion"]]).all().all()
    # Only integrated gradients has a baseline, hence a completeness gap; it is small.
    assert methods["completeness_gap_pct"].notna().tolist() == [
        name == "integrated_gradients" for name in methods.index
    ]
    assert methods.loc["integrated_gradients", "completeness_gap_pct"] < 2.0
    rules = table[table["kind"] == "multitouch"]
    assert rules[["contribution_r", "aopc_ratio"]].isna().all().all()
    summary = json.loads((out / "demo_summary.json").read_text())
    assert (summary["seed"], summary["n_sessions"]) == (1, 3000)
    assert [row["method"] for row in summary["method_recovery"]] == table["method"].tolist()
    written = pd.read_csv(out.joinpath(*RECOVERY_CSV))
    pd.testing.assert_frame_equal(written, table, check_dtype=False)


def test_evaluate_rebuilds_the_same_figures_from_the_folder(small_demo):
    out, demo = small_demo
    result = runner.invoke(cli.app, ["evaluate", str(out), "--sample", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    for name in (*METHODS, *CREDIT_COLUMNS, "200 test sessions"):
        assert name in result.output
    rebuilt = pd.read_csv(out.joinpath(*RECOVERY_CSV))
    speed = "sessions_per_second"
    pd.testing.assert_frame_equal(
        rebuilt.drop(columns=speed), demo.method_recovery.drop(columns=speed), check_dtype=False
    )


def test_evaluate_a_subset_of_methods(small_demo, tmp_path):
    out, _ = small_demo
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    result = runner.invoke(
        cli.app, ["evaluate", str(copy), "--methods", "attention, grad_x_input", "--sample", "100"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(copy.joinpath(*RECOVERY_CSV))
    assert table["method"].tolist() == ["attention", "grad_x_input", *CREDIT_COLUMNS]
    assert (table["sessions"] == 100).all()


def test_evaluate_errors_name_the_problem(small_demo, tmp_path):
    out, _ = small_demo
    unknown = runner.invoke(cli.app, ["evaluate", str(out), "--methods", "shapley"])
    assert unknown.exit_code == 2 and "shapley" in unknown.output
    assert "grad_x_input" in unknown.output and "Traceback" not in unknown.output

    missing = runner.invoke(cli.app, ["evaluate", str(tmp_path)])
    assert missing.exit_code == 2
    assert "run_summary_no_funnel.json is missing" in missing.output
    assert "eventlift demo" in missing.output

    copy = tmp_path / "other"
    shutil.copytree(out, copy)
    summary = json.loads((copy / "demo_summary.json").read_text())
    (copy / "demo_summary.json").write_text(json.dumps({**summary, "n_sessions": 2000}))
    mismatch = runner.invoke(cli.app, ["evaluate", str(copy)])
    assert mismatch.exit_code == 2
    assert "does not match its demo_summary.json" in mismatch.output


def test_cli_defaults_match_the_library():
    assert SyntheticSpec().n_sessions == cli.DEFAULT_SESSIONS
    assert cli.DEFAULT_EVALUATE_SAMPLE == DEFAULT_SAMPLE


def test_demo_can_skip_the_method_comparison(tmp_path):
    overrides = {"train": {"epochs": 1}, "output": {"modes": ["no_funnel"]}}
    demo = run_demo(
        tmp_path, n_sessions=1500, seed=2, config_overrides=overrides, evaluate_sample=-1
    )
    assert demo.method_recovery is None
    assert not tmp_path.joinpath(*RECOVERY_CSV).exists()
    assert "method_recovery" not in json.loads((tmp_path / "demo_summary.json").read_text())
    assert np.isfinite(demo.recovery["no_funnel"]["event_spearman"])
