"""The command line: readable help, clear errors with exit code 2, a summary at the end."""

from __future__ import annotations

from typer.testing import CliRunner

from eventlift.cli import app
from support.logs import random_log

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run"):
        assert command in result.output
    demo_help = runner.invoke(app, ["demo", "--help"])
    assert "--sessions" in demo_help.output and "--seed" in demo_help.output


def test_unknown_config_key_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[train]\nsed = 3\n")
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 2
    assert "unknown key 'sed'" in result.output and "seed" in result.output
    assert "Traceback" not in result.output


def test_run_on_a_csv_prints_the_summary(tmp_path):
    events = random_log(300)
    events.drop(columns=["row_number"]).to_csv(tmp_path / "events.csv", index=False)
    (tmp_path / "run.toml").write_text(
        """
[input]
path = "events.csv"
[columns]
user_id = "user_id"
store_id = "store_id"
[sessions]
conversion_events = ["buy"]
max_len = 12
[model]
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 16
[train]
epochs = 2
min_count = 1
[attribution]
bootstrap = 0
[output]
dir = "out"
"""
    )
    result = runner.invoke(app, ["run", str(tmp_path / "run.toml"), "--mode", "both"])
    assert result.exit_code == 0, result.output
    assert "eventlift run: no_funnel" in result.output
    assert "eventlift run: with_funnel" in result.output
    assert (tmp_path / "out" / "outputs" / "run_summary_with_funnel.json").is_file()
    bad_mode = runner.invoke(app, ["run", str(tmp_path / "run.toml"), "--mode", "funnel"])
    assert bad_mode.exit_code == 2 and "--mode must be one of" in bad_mode.output
