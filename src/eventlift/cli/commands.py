"""The ``eventlift`` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from eventlift.config import ATTRIBUTION_METHODS
from eventlift.exceptions import EventliftError

# Defaults of SyntheticSpec and eventlift.workflow.evaluation, repeated so that --help imports
# nothing heavy.
DEFAULT_SESSIONS = 30_000
DEFAULT_EVALUATE_SAMPLE = 2000

app = typer.Typer(
    help="Which steps of a user's session drive conversion? Train a Transformer on session "
    "events, explain every prediction event by event, and roll the scores up into tables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
output = Console()


def _fail(error: EventliftError) -> None:
    from rich.text import Text

    message = Text("error: ", style="bold red") + Text(str(error))  # the message is never markup
    console.print(message, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("eventlift-demo"),
    sessions: Annotated[int, typer.Option(help="Number of synthetic sessions.")] = DEFAULT_SESSIONS,
    seed: Annotated[int, typer.Option(help="Seed for data, splits and training.")] = 0,
    epochs: Annotated[Optional[int], typer.Option(help="Maximum training epochs.")] = None,  # noqa: UP045
) -> None:
    """Generate a synthetic log with known causes, run both modes and write the full report."""
    from eventlift.cli.console import RichProgress, demo_table, method_recovery_table
    from eventlift.workflow.demo import run_demo

    started = time.perf_counter()
    overrides = {"train": {"epochs": epochs}} if epochs else None
    try:
        result = run_demo(
            out,
            n_sessions=sessions,
            seed=seed,
            config_overrides=overrides,
            progress=RichProgress(console),
        )
    except EventliftError as error:
        _fail(error)
    output.print(demo_table(result))
    for row in result.summary_rows():
        output.print(f"Top 5 events by lift, {row['mode']}: {', '.join(row['top_events'])}")
    recovery = result.recovery.get("no_funnel")
    if recovery:
        output.print(
            f"no_funnel recovery: Spearman(lift, planted effect) = "
            f"{recovery['event_spearman']:.3f}; planted best store ranks "
            f"{recovery['best_store_rank']} of {recovery['supported_stores']} supported stores; "
            f"top position bucket {recovery['top_position_bucket']}; mean signed score points "
            f"the planted way for {recovery['signs_agree']} of {recovery['signs_checked']} "
            f"event types with a clear effect."
        )
    if result.comparison is not None:
        output.print(result.comparison.verdict)
    if result.method_recovery is not None:
        output.print(method_recovery_table(result.method_recovery))
    output.print(f"Wrote {out}/ in {time.perf_counter() - started:.0f}s.")


INIT_ROWS = 100_000  # eventlift.data.peek.DEFAULT_SAMPLE_ROWS, repeated for a light --help
InitDataArgument = Annotated[
    Optional[str],  # noqa: UP045 (typer reads the annotation at run time)
    typer.Argument(
        help="Events file, folder or glob (CSV, Parquet, JSON lines, .gz/.zst).",
        metavar="DATA",
        show_default=False,
    ),
]
InitQueryOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="SQL to sample instead of a file (with --database).", show_default=False),
]
InitDatabaseOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="DuckDB file or SQLAlchemy URL for --query.", show_default=False),
]


@app.command()
def init(
    data: InitDataArgument = None,
    out: Annotated[Path, typer.Option(help="Config file to write.")] = Path("eventlift.toml"),
    query: InitQueryOption = None,
    database: InitDatabaseOption = None,
    rows: Annotated[int, typer.Option(help="Rows read to propose the config.")] = INIT_ROWS,
    force: Annotated[bool, typer.Option(help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Propose a commented config for DATA (or a --query) from the first rows it holds.

    Reads them the way `eventlift run` will, proposes a role for each column from its name and
    content, lists the most frequent events with the conversion and funnel candidates, and
    writes OUT (an existing file only with --force). Then: eventlift run OUT.
    """
    from eventlift.data.profile import profile_source
    from eventlift.workflow.starter_config import check_target, summary, write_config

    try:
        check_target(out, force)  # before reading, so that a large sample is not read in vain
        profile = profile_source(data, query=query, database=database, rows=rows)
        path = write_config(profile, out, force=force)
    except EventliftError as error:
        _fail(error)
    output.print(summary(profile))
    output.print(f"Wrote {path}. Next: eventlift run {path}", soft_wrap=True)


MethodOption = Annotated[
    str,
    typer.Option(
        help=f"Attribution method: {', '.join(ATTRIBUTION_METHODS[:-1])} or "
        f"{ATTRIBUTION_METHODS[-1]} (default: \\[attribution] method)."
    ),
]


SampleOption = Annotated[
    Optional[int],  # noqa: UP045 (typer reads the annotation at run time)
    typer.Option(
        help="Keep a reproducible sample of this many sessions for a quick first look "
        "(default: \\[input] max_sessions, else all).",
        show_default=False,
    ),
]


def _run_config(config: Path, modes: str | None, method: str, sample: int | None) -> None:
    """Run ``modes`` (None: ``[output] modes``) of CONFIG, print each summary and the verdict."""
    from eventlift.cli.console import RichProgress, run_notes, run_table
    from eventlift.config import MODES
    from eventlift.data.readers import read_events, read_stores
    from eventlift.workflow.pipeline import resolve_config, run_modes

    started = time.perf_counter()
    try:
        settings = resolve_config(config)
        if method:
            settings = settings.replace(attribution={"method": method})
        if sample is not None:
            settings = settings.replace(input={"max_sessions": sample})
        if modes and modes not in (*MODES, "both"):
            raise EventliftError(
                f"--mode must be one of {', '.join(MODES)} or both, got {modes!r}."
            )
        chosen = list(MODES) if modes == "both" else [modes] if modes else settings.output.modes
        frame = read_events(None, settings, compact=True)
        stores = read_stores(settings.input.stores) if settings.input.stores else None
        results, comparison = run_modes(
            frame,
            settings,
            chosen,
            stores=stores,
            progress=RichProgress(console),
            keep_arrays=False,  # only the summaries are printed; the files hold the rest
        )
    except EventliftError as error:
        _fail(error)
    for result in results.values():  # the warnings first: "not better than counting" leads
        for line in run_notes(result.summary):
            output.print(line)
        output.print(run_table(result))
    if comparison is not None:
        output.print(comparison.verdict)
    output.print(f"Wrote {settings.output.dir}/ in {time.perf_counter() - started:.0f}s.")


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="TOML config file.", show_default=False)],
    mode: Annotated[
        str, typer.Option(help="no_funnel, with_funnel, or both (default: \\[output] modes).")
    ] = "",
    method: MethodOption = "",
    sample: SampleOption = None,
) -> None:
    """Run the pipeline on your own events as described by CONFIG."""
    _run_config(config, mode or None, method, sample)


@app.command()
def compare(
    config: Annotated[Path, typer.Argument(help="TOML config file.", show_default=False)],
    method: MethodOption = "",
    sample: SampleOption = None,
) -> None:
    """Run no_funnel and with_funnel on the same sessions and say how much the funnel leaks.

    Writes comparison.json and outputs/mode_comparison.csv (test AUC of each mode and of the
    baselines, the funnel's share of attribution, how the browsing events' ranks move) next to
    both modes' outputs, and prints a one-sentence verdict.
    """
    _run_config(config, "both", method, sample)


@app.command()
def report(
    folder: Annotated[
        Path, typer.Argument(help="Output folder of a run or of the demo.", show_default=False)
    ],
) -> None:
    """Rebuild FOLDER/report.html from the files a run wrote (no model or events needed)."""
    from eventlift.report.html import build_report

    try:
        path = build_report(folder)
    except EventliftError as error:
        _fail(error)
    output.print(f"Wrote {path}.")


@app.command()
def evaluate(
    folder: Annotated[
        Path, typer.Argument(help="Output folder of `eventlift demo`.", show_default=False)
    ],
    methods: Annotated[
        str, typer.Option(help="Comma-separated attribution methods (default: all).")
    ] = "",
    sample: Annotated[
        int, typer.Option(help="Test sessions every method is scored on (0: all).")
    ] = DEFAULT_EVALUATE_SAMPLE,
) -> None:
    """Score every attribution method against the causes planted in a demo's synthetic log.

    Prints, per method: Spearman of event-type lift with the planted effects, rank of the
    planted best store, top-5 store overlap, per-session correlation with the true
    contributions, sign agreement, faithfulness (deletion AOPC over random) and speed; then the
    multi-touch rules. Writes outputs/method_recovery_no_funnel.csv in FOLDER.
    """
    from eventlift.cli.console import RichProgress, method_recovery_table
    from eventlift.core.atomic import write_csv
    from eventlift.workflow.evaluation import evaluate_folder

    started = time.perf_counter()
    chosen = [name.strip() for name in methods.split(",") if name.strip()] or None
    try:
        table = evaluate_folder(
            folder, methods=chosen, sample=sample, progress=RichProgress(console)
        )
    except EventliftError as error:
        _fail(error)
    path = write_csv(table, folder / "outputs" / "method_recovery_no_funnel.csv")
    output.print(method_recovery_table(table))
    output.print(f"Wrote {path} in {time.perf_counter() - started:.0f}s.")


@app.command()
def spark(
    config: Annotated[Path, typer.Argument(help="TOML config file.", show_default=False)],
    mode: Annotated[
        str, typer.Option(help="no_funnel or with_funnel (default: \\[output] modes).")
    ] = "",
) -> None:
    """Run CONFIG on Apache Spark (also under spark-submit: python -m eventlift.spark CONFIG).

    Uses the running SparkSession, or starts one (\\[spark] master, default local[*]). Reads
    \\[spark] input_table or \\[input] path and writes the tables as Parquet, Delta or catalog
    tables (\\[spark] write).
    """
    from eventlift.cli.console import run_notes
    from eventlift.spark.run import run as run_spark
    from eventlift.spark.session import get_spark
    from eventlift.spark.settings import load_spark_config

    started = time.perf_counter()
    try:
        settings_config, settings = load_spark_config(config)
        modes = [mode] if mode else settings_config.output.modes
        session = get_spark(settings)
        for chosen in modes:
            result = run_spark(session, None, settings_config, settings=settings, mode=chosen)
            counts, metrics = result.summary["counts"], result.summary["metrics"]
            if "sessions_derived" in counts:
                output.print(f"sessions: {counts['sessions_derived']['why']}")
            output.print(
                f"{chosen}: {counts['sessions']} sessions, test AUC "
                f"{metrics['test_auc']:.3f}; tables: {', '.join(result.locations.values())}"
            )
            for line in run_notes(result.summary):
                output.print(line)
    except EventliftError as error:
        _fail(error)
    output.print(f"Done in {time.perf_counter() - started:.0f}s.")


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
