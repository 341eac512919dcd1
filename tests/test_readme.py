"""The README's examples work as written, on a small log.

Everything is taken from README.md when the tests are collected, never copied here, so that an
example that stops working (a renamed function, command or option) fails a test:

- every ```python block runs, in README order, in one shared namespace; then every prose code span
  that is an expression rooted at a name the blocks bound, with a subscript or call in it
  (``results["no_funnel"].files["event_level_parquet"]``), is evaluated there;
- every ```toml block is validated as a config, and so is each commented ``# key = value``
  alternative in it put in place of its key (the block names database servers: nothing connects);
- every command is run with typer's CliRunner against ``eventlift.cli.app``, in README order:
  each code span starting with ``eventlift`` that has arguments (prose, table rows, shell
  comments), and ``eventlift demo`` in the Quick start block. ``[...]`` options are all given, a
  choice ``a|b|c`` takes its last value, and placeholders stand for the files below
  (``PLACEHOLDERS``, ``SIZES``, ``FOLDERS``). Examples that parse to the same arguments run once.
  Each run must exit 0 and write the file its row of the command table promises (``WRITES``).

The log: ``generate_events(n_sessions=300, seed=1)`` as ``events.parquet``, ``events.csv`` and a
table ``events`` in ``warehouse.duckdb``. ``my.toml`` (and ``CONFIG``) is a tiny config (16-wide
one-layer model, one epoch, 20 bootstrap resamples, no faithfulness curves, no plots). The demo
runs as the README shows it but for its size: ``--sessions 300 --epochs 1`` instead of 30,000
sessions and 20 epochs (``SMALL``); ``eventlift evaluate`` then scores all of that demo's test
sessions. ``eventlift init`` writes a config, so each of its examples runs, as on a first use, in
a new folder holding the same ``events.csv`` and ``warehouse.duckdb``.

Not run, by rule:

- ``make demo`` and ``make test`` build the development environment (a .venv, Chromium,
  PostgreSQL): the Makefile must define the target, and what ``make demo`` runs,
  ``eventlift demo``, is run above;
- ``eventlift spark CONFIG`` and ``python -m eventlift.spark CONFIG`` start a Spark JVM (local
  mode, spark-submit or a Databricks cluster): the arguments must parse against the command, or
  the module must exist; the Spark path itself runs in tests/spark/test_spark_parity.py;
- the ``[input]``/``[output]`` TOML block names PostgreSQL and Snowflake URLs: validated only;
- ``eventlift COMMAND`` alone in prose names a command (``the same readers as `eventlift run```):
  the command must exist.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer.main
from typer.testing import CliRunner

from eventlift.cli import app
from eventlift.config import Config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`((?:[^`\n]|\n(?!\n))+)`")  # a code span may wrap, not cross a blank line
SHELL = ("bash", "sh", "shell", "console")
COMMENTED_KEY = re.compile(r"^#\s*(\w+)\s*=\s*(.+)$")
SECTION = re.compile(r"^\[(\w+)\]")

TINY_CONFIG = """
[input]
path = "events.csv"
[columns]
session_id = "session_id"
user_id = "user_id"
event_category = "event_category"
store_id = "store_id"
store_name = "store_name"
[sessions]
conversion_events = ["order_placed"]
[model]
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 32
[train]
epochs = 1
[attribution]
bootstrap = 20
faithfulness_sessions = 0
[output]
dir = "eventlift-output"
write_plots = false
"""
RUN_DIR = "eventlift-output"  # [output] dir of TINY_CONFIG
DEMO_DIR = "eventlift-demo"  # the demo's default --out
SMALL = {"demo": {"--sessions": "300", "--epochs": "1"}}  # size arguments of every demo example
PLACEHOLDERS = {
    "DATA": "events.csv",
    "CONFIG": "my.toml",
    "SQL": "SELECT * FROM events",
    "DB": "warehouse.duckdb",
    "M": "grad_x_input",
    "a,b": "grad_x_input,occlusion",
    "S": "0",
    "E": "1",
}
SIZES = {("init", "--rows"): "1000"}  # N of other options (--sample): 200
FOLDERS = {"demo": DEMO_DIR, "evaluate": DEMO_DIR, "report": RUN_DIR}  # what DIR stands for
WRITES = {  # the file each command must (re)write, from its parsed parameters
    "demo": lambda p: p["out"] / "report.html",
    "init": lambda p: p["out"],
    "run": lambda p: Path(RUN_DIR, "outputs", "run_summary_no_funnel.json"),
    "compare": lambda p: Path(RUN_DIR, "comparison.json"),
    "report": lambda p: p["folder"] / "report.html",
    "evaluate": lambda p: p["folder"] / "outputs" / "method_recovery_no_funnel.csv",
}
NOT_RUN = {
    "make": "builds the development environment (.venv, Chromium, PostgreSQL)",
    "spark": "starts a Spark JVM; the Spark path runs in tests/spark/test_spark_parity.py",
}


@dataclass(frozen=True)
class Example:
    """One command the README shows and where: its line, and whether in a shell block."""

    text: str
    line: int
    in_shell_block: bool

    @property
    def words(self) -> list[str]:
        """The command's words, every ``[...]`` option given (``python -m eventlift.cli`` is
        the ``eventlift`` command)."""
        words = shlex.split(re.sub(r"\[([^\]]+)\]", r"\1", self.text.replace("\\|", "|")))
        return (
            ["eventlift", *words[3:]] if words[:3] == ["python", "-m", "eventlift.cli"] else words
        )


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def blocks(language: str) -> list[tuple[int, str]]:
    """The fenced blocks of one language: (line of their first code line, code)."""
    text = README.read_text()
    return [
        (line_of(text, match.start(2)), match.group(2))
        for match in FENCE.finditer(text)
        if match.group(1) == language
    ]


def spans() -> list[tuple[int, str, bool]]:
    """Every inline code span in order: (line, text with whitespace joined, in a shell block)."""
    text = README.read_text()
    found, prose, last = [], [], 0
    for match in FENCE.finditer(text):
        prose.append((last, text[last : match.start()]))
        if match.group(1) in SHELL:  # spans in a shell block's comments (`eventlift demo`)
            found += [
                (match.start(2) + span.start(), span[1], True) for span in SPAN.finditer(match[2])
            ]
        last = match.end()
    prose.append((last, text[last:]))
    for start, part in prose:
        found += [(start + span.start(), span[1], False) for span in SPAN.finditer(part)]
    return [(line_of(text, at), " ".join(code.split()), shell) for at, code, shell in sorted(found)]


def examples() -> list[Example]:
    """The README's commands in order: shell block lines, then code spans starting a command."""
    found = [
        Example(line.split(" #")[0].strip().removeprefix("$ "), start + number, True)
        for start, code in (block for language in SHELL for block in blocks(language))
        for number, line in enumerate(code.splitlines())
        if line.strip() and not line.startswith("#")
    ]
    found += [
        Example(text, line, shell)
        for line, text, shell in spans()
        if re.match(r"(eventlift|python -m|spark-submit|make) ", text)
    ]
    return sorted(found, key=lambda example: example.line)


EXAMPLES = examples()
COMMANDS = {command.name: command for command in typer.main.get_command(app).commands.values()}


def kind(example: Example) -> str:
    """``run``, ``name`` (a command named in prose), ``make`` or ``spark`` (not run)."""
    words = example.words
    if words[0] == "make":
        return "make"
    if words[:3] == ["python", "-m", "eventlift.spark"] or words[0] == "spark-submit":
        return "spark"
    if words[0] != "eventlift":
        raise AssertionError(f"README line {example.line}: unknown command {example.text!r}")
    if words[1] == "spark":
        return "spark"
    return "name" if len(words) == 2 and not example.in_shell_block else "run"


def arguments(example: Example) -> list[str]:
    """The argv of an ``eventlift`` example with placeholders filled and the demo made small."""
    command, *words = example.words[1:]
    argv, option = [command], None
    for word in words:
        word = word.split("|")[-1]
        if word == "N":
            word = SIZES.get((command, option), "200")
        elif word == "DIR":
            word = FOLDERS.get(command, word)
        argv.append(PLACEHOLDERS.get(word, word))
        option = word if word.startswith("--") else None
    for name, value in SMALL.get(command, {}).items():
        if name in argv:
            argv[argv.index(name) + 1] = value
        else:
            argv += [name, value]
    return argv


def parsed(argv: list[str]) -> dict[str, Any]:
    """The command's parameters as click resolves them: an unknown command or option raises."""
    if argv[0] not in COMMANDS:
        raise typer.BadParameter(f"No such command {argv[0]!r}.")
    with COMMANDS[argv[0]].make_context(argv[0], list(argv[1:])) as context:
        return dict(context.params)


def ids(example: Example) -> str:
    return f"line{example.line}:{example.text}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """events.parquet, events.csv, warehouse.duckdb (table ``events``) and the tiny my.toml."""
    from eventlift.data.synthetic import generate_events

    folder = tmp_path_factory.mktemp("readme")
    events, _ = generate_events(n_sessions=300, seed=1)
    events.to_csv(folder / "events.csv", index=False)
    events.to_parquet(folder / "events.parquet")
    with duckdb.connect(str(folder / "warehouse.duckdb")) as connection:
        connection.execute("CREATE TABLE events AS SELECT * FROM events")
    (folder / "my.toml").write_text(TINY_CONFIG)
    return folder


def folder_for(argv: list[str], workdir: Path) -> Path:
    """Where an example runs: the shared folder, or for ``init`` (it writes a config) a new one
    holding the same inputs, as on a first use."""
    if argv[0] != "init":
        return workdir
    folder = workdir / f"init-{len(list(workdir.glob('init-*')))}"
    folder.mkdir()
    for name in ("events.csv", "warehouse.duckdb"):
        shutil.copy(workdir / name, folder / name)
    return folder


@dataclass
class Run:
    """One example's run: its argv, exit code and output, the file it must write and that
    file's mtime before the run (None: it did not exist)."""

    argv: list[str]
    exit_code: int
    output: str
    written: Path | None = None
    before: int | None = None


@pytest.fixture(scope="module")
def cli_runs(workdir) -> dict[Example, Run]:
    """Every runnable example run once, in README order; one that does not parse is not run."""
    runner, runs, seen = CliRunner(), {}, {}
    for example in EXAMPLES:
        if kind(example) != "run":
            continue
        argv = arguments(example)
        try:
            params = parsed(argv)
        except typer.TyperException as error:  # what the command line refuses before running
            runs[example] = Run(argv, 2, str(error))
            continue
        if argv[0] not in WRITES:
            runs[example] = Run(argv, 2, f"WRITES names no file for `eventlift {argv[0]}`")
            continue
        key = (argv[0], repr(sorted(params.items())))
        if key not in seen:
            folder = folder_for(argv, workdir)
            written = folder / WRITES[argv[0]](params)
            before = written.stat().st_mtime_ns if written.exists() else None
            with pytest.MonkeyPatch.context() as patch:
                patch.chdir(folder)
                result = runner.invoke(app, argv)
            seen[key] = Run(argv, result.exit_code, result.output, written, before)
        runs[example] = seen[key]
    return runs


def test_the_readme_shows_every_command():
    shown = {example.words[1] for example in EXAMPLES if example.words[0] == "eventlift"}
    assert shown == set(COMMANDS), "every command of the CLI has an example in the README"
    assert {"make", "spark"} <= {kind(example) for example in EXAMPLES}
    assert blocks("python") and blocks("toml")


@pytest.mark.parametrize("example", EXAMPLES, ids=ids)
def test_command_example(example, request):
    """Run examples exit 0 and write their file; the others are checked as far as they can be."""
    how = kind(example)
    if how == "name":
        assert example.words[1] in COMMANDS, f"README line {example.line}: no such command"
        return
    if how == "make":
        target = example.words[1]
        makefile = (ROOT / "Makefile").read_text()
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no make target {target}"
        pytest.skip(f"{example.text}: {NOT_RUN['make']}")
    if how == "spark":
        if example.words[0] == "eventlift":
            parsed(arguments(example))
        else:
            module = example.words[example.words.index("-m") + 1]
            assert (ROOT / "src" / Path(*module.split(".")) / "__main__.py").is_file(), module
        pytest.skip(f"{example.text}: {NOT_RUN['spark']}")
    run = request.getfixturevalue("cli_runs")[example]
    where = f"README line {example.line}: eventlift {shlex.join(run.argv)}"
    assert run.exit_code == 0, f"{where}\n{run.output}"
    assert "Traceback" not in run.output, where
    assert run.written.is_file() and run.written.stat().st_mtime_ns != run.before, (
        f"{where} did not write {run.written}"
    )


def test_python_blocks_run_in_order(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    namespace: dict[str, Any] = {"__name__": "readme"}
    for start, code in blocks("python"):
        exec(compile("\n" * (start - 1) + code, str(README), "exec"), namespace)
    bound = {
        name
        for name, value in namespace.items()
        if not name.startswith("__") and not isinstance(value, types.ModuleType)
    }
    evaluated = 0
    for line, text, _ in spans():
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            continue
        root = tree.body
        while isinstance(root, ast.Attribute | ast.Subscript | ast.Call):
            root = root.func if isinstance(root, ast.Call) else root.value
        reaches = any(isinstance(node, ast.Subscript | ast.Call) for node in ast.walk(tree))
        if isinstance(root, ast.Name) and root.id in bound and reaches:
            value = eval(compile(tree, f"{README}:{line}", "eval"), namespace)
            assert not isinstance(value, Path) or value.is_file(), f"line {line}: {value}"
            evaluated += 1
    assert evaluated, "no expression on the Python example's results found in the README"


@pytest.mark.parametrize(
    ("start", "code"), blocks("toml"), ids=[f"line{start}" for start, _ in blocks("toml")]
)
def test_toml_blocks_are_valid_configs(start, code):
    data = tomllib.loads(code)
    Config.from_dict(data, source=f"README line {start}")
    section = None
    for number, line in enumerate(code.splitlines(), start):
        section = ((match := SECTION.match(line)) and match[1]) or section
        if (match := COMMENTED_KEY.match(line)) and section:
            value = tomllib.loads(f"value = {match[2]}")["value"]
            alternative = {**data, section: {**data[section], match[1]: value}}
            Config.from_dict(alternative, source=f"README line {number}")
