"""Config files: unknown keys and wrong types are errors that name the key and what is allowed."""

from __future__ import annotations

import re
import sys
import typing
from pathlib import Path

import pytest

from eventlift.config import Config, load_config
from eventlift.core.toml_sections import build_section
from eventlift.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHIPPED = sorted((ROOT / "examples").glob("*.toml"))
PATH_KEYS = {("input", "path"), ("input", "database"), ("input", "stores"), ("output", "dir")}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trian": {}}, r"unknown section \[trian\]; allowed sections are \[input\], \[columns\]"),
        ({"train": {"sed": 1}}, r"\[train\]: unknown key 'sed'; allowed keys are seed, epochs"),
        ({"train": {"seed": "7"}}, r"\[train\] seed: expected an integer, got '7'"),
        ({"train": {"epochs": True}}, r"\[train\] epochs: expected an integer, got True"),
        (
            {"model": {"dropout": "high"}},
            r"\[model\] dropout: expected a number or one of 'auto', got 'high'",
        ),
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


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_examples_are_valid(path):
    """An example loads; every key it writes is the value the run gets (relative paths against
    its folder); it names its events (a path, or a query and a database); and every commented
    alternative (``# key = value``) is a key of its section with a value of the right type, so
    that uncommenting it works."""
    linked = set(re.findall(r"\(examples/([\w.]+\.toml)\)", README.read_text()))
    assert linked <= {shipped.name for shipped in SHIPPED}, "the README links these examples"
    text = path.read_text()
    resolved = load_config(path).to_dict()
    for section, values in tomllib.loads(text).items():
        for key, value in values.items():
            if (section, key) in PATH_KEYS and "://" not in value:
                value = str(path.parent / value)
            assert resolved[section][key] == value, f"{path.name} [{section}] {key}"
    source = resolved["input"]
    assert source["path"] or (source["query"] and source["database"]), path.name
    section_types, section = typing.get_type_hints(Config), None
    for number, line in enumerate(text.splitlines(), 1):
        section = ((match := re.match(r"\[(\w+)\]", line)) and match[1]) or section
        if section and (match := re.match(r"#\s*(\w+)\s*=\s*(.+)$", line)):
            value = tomllib.loads(f"value = {match[2]}")["value"]
            build_section(section_types[section], {match[1]: value}, f"{path.name}:{number}")


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


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"train": {"learning_rate": float("nan")}}, r"\[train\] learning_rate must be above 0"),
        ({"train": {"learning_rate": float("inf")}}, r"learning_rate must be .*; got inf"),
        ({"train": {"learning_rate": 1e6}}, r"at most 1 \(e\.g\. 2e-3\); got 1000000\.0"),
        ({"train": {"learning_rate": 0}}, r"learning_rate must be above 0"),
        ({"train": {"weight_decay": float("inf")}}, r"weight_decay must be a finite number"),
        ({"train": {"pos_weight": float("nan")}}, r"pos_weight must be a finite number above 0"),
        ({"train": {"patience": -1}}, r"\[train\] patience must be a finite number, 0 or more"),
        ({"train": {"min_count": 0}}, r"\[train\] min_count must be a whole number, 1 or more"),
        ({"train": {"device": "tpu"}}, r'device must be "auto", "cpu", "cuda", "cuda:N" or "mps"'),
        ({"sessions": {"inactivity_gap_minutes": -5}}, r"inactivity_gap_minutes must be a"),
        ({"sessions": {"inactivity_gap_minutes": float("inf")}}, r"got inf"),
        ({"attribution": {"bootstrap": -1}}, r"\[attribution\] bootstrap must be"),
        ({"attribution": {"min_support": -3}}, r"\[attribution\] min_support must be"),
        ({"model": {"gap_buckets": 0}}, r"\[model\] gap_buckets must be a whole number"),
    ],
)
def test_numbers_out_of_range_and_unknown_devices_are_rejected(data, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_dict(data)


def test_a_named_device_that_is_not_here_fails_before_training():
    import torch

    from eventlift.model.batching import select_device

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match=r"device = 'cuda:1', but torch sees 0 CUDA device"):
        select_device("cuda:1")
    assert select_device("cpu").type == "cpu"
