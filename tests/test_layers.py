"""The package's layers import one way: no module imports from a stage after its own.

Every ``import eventlift...`` and ``from eventlift... import`` in ``src/eventlift`` — at module
level and inside functions alike (a lazy import is still a dependency) — is read with ``ast``
and checked against :data:`LAYERS`, lowest first. A module may import its own layer or any
lower one. The package's ``__init__`` (the public API, which re-exports the workflow) and the
``__main__`` entry points (which start the command line) sit above every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "eventlift"
LAYERS = (
    "exceptions",
    "core",
    "config_ranges",
    "config",
    "data",
    "model",
    "attribution",
    "analysis",
    "sinks",
    "report",
    "workflow",
    "spark",
    "cli",
)
ENTRY_POINTS = ("eventlift", "eventlift.spark.__main__", "eventlift.cli.__main__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    """The layer of a module ``eventlift.<layer>[.rest]``; unknown layers fail loudly."""
    top = module.split(".")[1]
    assert top in LAYERS, f"{module}: {top!r} is in no layer; add it to LAYERS in this test"
    return LAYERS.index(top)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every eventlift import in the file, wherever it sits."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("eventlift.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "eventlift":  # from eventlift import x: x is a layer or an API name
                found += [(node.lineno, f"eventlift.{a.name}") for a in node.names]
            elif node.module.startswith("eventlift."):
                found.append((node.lineno, node.module))
    return found


MODULES = sorted(SRC.rglob("*.py"))


def test_every_module_is_in_a_layer():
    names = {_module_name(path) for path in MODULES} - set(ENTRY_POINTS)
    assert len(names) > 80  # the walk found the package
    for name in names:
        _layer(name)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: _module_name(path))
def test_imports_point_down(path):
    module = _module_name(path)
    if module in ENTRY_POINTS:
        return
    own = _layer(module)
    upward = [
        f"line {line}: {target}"
        for line, target in _imports(path)
        if target.split(".")[1] in LAYERS and _layer(target) > own
    ]
    assert not upward, f"{module} ({LAYERS[own]}) imports later stages: {upward}"


def test_a_violation_is_caught(tmp_path):
    """The check itself: a data module importing the workflow is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from eventlift.workflow.pipeline import run\n")
    assert _imports(bad) == [(2, "eventlift.workflow.pipeline")]
    assert _layer("eventlift.workflow.pipeline") > _layer("eventlift.data.sessions")
