"""The public API is stable: what ``import eventlift`` offers, the stages the README names, and
that the CLI starts light.

Every dotted ``eventlift.…`` name the README shows in backticks is found when the tests are
collected and must be pinned below with the call the README documents, so that a stage that is
renamed, moved or given a new required parameter fails here before a notebook does.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import eventlift

README = Path(__file__).resolve().parents[1] / "README.md"
FILE_SUFFIXES = {"csv", "duckdb", "html", "json", "parquet", "png", "toml"}  # `eventlift.duckdb`

# The call each public function documents: its positional parameters in order, then ``*`` and
# keyword-only parameters it must accept. Every parameter not listed must have a default.
SIGNATURES = {
    "eventlift.run": "events, config, *, mode, method, write, progress",
    "eventlift.compare": "events, config, *, method, progress, keep_arrays",
    "eventlift.load_config": "path",
    "eventlift.RunResult.event_level": "self, split",
    "eventlift.data.readers.read_events": "source, config, *, compact",
    "eventlift.data.sessions.build_sessions": "events, config, columns, *, mode, source",
    "eventlift.data.prepare.prepare_sessions": "events, config, mode, *, source",
    "eventlift.model.trainer.train": "model, data, config, *, device, progress",
    "eventlift.attribution.attribute_sessions": (
        "attributor, data, rows, *, batch_size, device, progress"
    ),
    "eventlift.analysis.tables.attribution_tables": (
        "events, *, position_buckets, min_support, bootstrap, seed, stores"
    ),
    "eventlift.model.checkpoint.load_checkpoint": "stem, device",
}
# Classes the README names, with the fields it reads from their instances.
CLASSES = {
    "eventlift.EventliftError": (),
    "eventlift.CheckpointError": (),
    "eventlift.RunResult": ("mode", "tables", "metrics", "baselines", "files"),
    "eventlift.workflow.comparison.ModeComparison": ("verdict", "modes", "ranks"),
}
# Where each name of ``eventlift.__all__`` is defined: the package re-exports, never copies.
DEFINED_IN = {
    "Config": "eventlift.config",
    "load_config": "eventlift.config",
    "RunResult": "eventlift.workflow.result",
    "run": "eventlift.workflow.pipeline",
    "compare": "eventlift.workflow.pipeline",
    **{
        name: "eventlift.exceptions"
        for name in (
            "CheckpointError", "ConfigError", "DataError", "EmptyInputError", "EventliftError",
            "LabelError", "MalformedLinesError", "MissingColumnError", "TimestampError",
        )
    },
}  # fmt: skip
# The error tree: each error's parent (all but the root are also ValueErrors).
PARENTS = {
    "CheckpointError": "EventliftError",
    "ConfigError": "EventliftError",
    "DataError": "EventliftError",
    "EmptyInputError": "DataError",
    "LabelError": "DataError",
    "MalformedLinesError": "DataError",
    "MissingColumnError": "DataError",
    "TimestampError": "DataError",
}


def readme_names() -> set[str]:
    """Dotted ``eventlift.…`` names in the README's code spans, file names left out."""
    spans = re.findall(r"`(eventlift(?:\.\w+)+)`", README.read_text())
    return {name for name in spans if name.rsplit(".", 1)[1] not in FILE_SUFFIXES}


def resolve(dotted: str) -> object:
    """The object a dotted name stands for: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise AssertionError(f"{dotted}: no such module")


def test_public_names():
    assert set(eventlift.__all__) == {"__version__", *DEFINED_IN}
    star: dict = {}
    exec("from eventlift import *", star)  # the lazy names resolve through the star import too
    assert set(eventlift.__all__) <= set(star)
    for name, module in DEFINED_IN.items():
        assert getattr(eventlift, name) is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="no attribute 'pipeline_run'"):
        eventlift.pipeline_run  # noqa: B018 (the lazy lookup still refuses unknown names)


def test_version_is_the_installed_package_version():
    assert eventlift.__version__ == importlib.metadata.version("eventlift")
    assert re.fullmatch(r"\d+\.\d+\.\d+", eventlift.__version__)


def test_errors_share_one_root_and_stay_value_errors():
    errors = {
        name: value
        for name, value in vars(eventlift.exceptions).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    exported = {name for name in eventlift.__all__ if isinstance(getattr(eventlift, name), type)}
    assert set(errors) == {"EventliftError", *PARENTS} == exported - {"Config", "RunResult"}
    assert errors["EventliftError"].__bases__ == (Exception,)
    for name, parent in PARENTS.items():
        error = errors[name]
        assert issubclass(error, errors[parent]) and issubclass(error, ValueError), name
    missing = eventlift.MissingColumnError("events.csv: column 'ts' is absent")
    assert isinstance(missing, KeyError) and str(missing) == "events.csv: column 'ts' is absent"


def test_the_readme_names_only_pinned_stages():
    names = readme_names()
    assert {
        "eventlift.data.readers.read_events",
        "eventlift.data.sessions.build_sessions",
        "eventlift.data.prepare.prepare_sessions",
        "eventlift.model.trainer.train",
        "eventlift.attribution.attribute_sessions",
        "eventlift.analysis.tables.attribution_tables",
    } <= names, "the README's list of importable stages"
    unpinned = names - set(SIGNATURES) - set(CLASSES)
    assert not unpinned, f"pin the call the README documents for {sorted(unpinned)}"


@pytest.mark.parametrize("dotted", sorted(SIGNATURES))
def test_stage_signature(dotted):
    function = resolve(dotted)
    assert inspect.isfunction(function), f"{dotted} is {function!r}"
    positional, _, keywords = (part.split(", ") for part in SIGNATURES[dotted].partition(", *, "))
    parameters = inspect.signature(function).parameters
    ordered = [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert ordered[: len(positional)] == positional, f"{dotted}{inspect.signature(function)}"
    for name in [part for part in keywords if part]:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, f"{dotted}: {name}"
    for name, parameter in parameters.items():
        if name not in positional and name not in keywords:
            assert parameter.default is not inspect.Parameter.empty, f"{dotted}: new {name}"


@pytest.mark.parametrize("dotted", sorted(CLASSES))
def test_named_class(dotted):
    cls = resolve(dotted)
    assert inspect.isclass(cls), dotted
    if CLASSES[dotted]:
        fields = {field.name for field in dataclasses.fields(cls)}
        assert set(CLASSES[dotted]) <= fields, f"{dotted}: {sorted(fields)}"


def test_the_command_is_installed_and_runs_as_a_module():
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="eventlift")
    assert script.value == "eventlift.cli:main"
    assert script.load() is importlib.import_module("eventlift.cli.commands").main
    for module in ("eventlift.cli.__main__", "eventlift.spark.__main__"):
        assert importlib.util.find_spec(module) is not None, module


def test_cli_help_does_not_import_torch():
    code = "import sys; from eventlift.cli import app; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
