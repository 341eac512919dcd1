"""Config files: unknown keys and wrong types are errors that name the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventlift.config import Config, load_config
from eventlift.exceptions import ConfigError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trian": {}}, r"unknown section \[trian\]; allowed sections are \[input\], \[columns\]"),
        ({"train": {"sed": 1}}, r"\[train\]: unknown key 'sed'; allowed keys are seed, epochs"),
        ({"train": {"seed": "7"}}, r"\[train\] seed: expected an integer, got '7'"),
        ({"train": {"epochs": True}}, r"\[train\] epochs: expected an integer, got True"),
        ({"model": {"dropout": "high"}}, r"\[model\] dropout: expected a number, got 'high'"),
        ({"sessions": {"truncate": "middle"}}, r"truncate: expected one of 'head', 'tail'"),
        ({"sessions": {"funnel_events": "cart"}}, r"funnel_events: expected a list of strings"),
        ({"train": {"split_fractions": [0.5, 0.5, 0.5]}}, r"summing to 1"),
        ({"output": {"modes": ["both"]}}, r"unknown mode 'both'"),
        ({"attribution": {"position_buckets": [2, 5]}}, r"beginning at 1"),
        ({"model": {"d_model": 30, "n_heads": 4}}, r"divisible by n_heads"),
        ({"input": {"query": "SELECT 1"}}, r"`query` needs `database`"),
    ],
    ids=[
        "section",
        "key",
        "int",
        "bool-as-int",
        "float",
        "literal",
        "list",
        "fractions",
        "mode",
        "buckets",
        "heads",
        "query",
    ],
)
def test_invalid_config_is_rejected_with_a_clear_message(data, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(data)


def test_ints_are_accepted_where_numbers_are_expected():
    config = Config.from_dict({"train": {"learning_rate": 1, "pos_weight": 3}})
    assert config.train.learning_rate == 1.0 and isinstance(config.train.learning_rate, float)
    assert config.train.pos_weight == 3.0


def test_toml_file_paths_resolve_against_its_folder(tmp_path):
    path = tmp_path / "sub" / "run.toml"
    path.parent.mkdir()
    path.write_text('[input]\npath = "events.csv"\n[output]\ndir = "out"\n')
    config = load_config(path)
    assert config.input.path == str(tmp_path / "sub" / "events.csv")
    assert config.output.dir == str(tmp_path / "sub" / "out")


def test_broken_toml_and_missing_file_are_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nseed = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("name", ["config.toml", "otto.toml"])
def test_shipped_examples_are_valid(name):
    config = load_config(EXAMPLES / name)
    assert config.input.path


def test_replace_validates_like_a_file():
    config = Config().replace(train={"epochs": 2})
    assert config.train.epochs == 2
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        Config().replace(train={"epoch": 2})


def test_public_dict_masks_database_passwords():
    config = Config.from_dict(
        {
            "input": {"query": "SELECT 1", "database": "postgresql://ana:s3cret@db:5432/x"},
            "output": {"database": "snowflake://ana:hunter2@org-acct/DB/SCHEMA"},
        }
    )
    public = config.to_public_dict()
    assert public["input"]["database"] == "postgresql://ana:***@db:5432/x"
    assert public["output"]["database"] == "snowflake://ana:***@org-acct/DB/SCHEMA"
    assert "s3cret" in config.to_dict()["input"]["database"]  # the run itself keeps it
