"""The ``eventlift`` command: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from eventlift.exceptions import EventliftError

DEFAULT_SESSIONS = 30_000  # SyntheticSpec's default, repeated so that --help imports nothing heavy

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
    console.print(f"[bold red]error:[/] {error}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code=2)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("eventlift-demo"),
    sessions: Annotated[int, typer.Option(help="Number of synthetic sessions.")] = DEFAULT_SESSIONS,
    seed: Annotated[int, typer.Option(help="Seed for data, splits and training.")] = 0,
    epochs: Annotated[Optional[int], typer.Option(help="Maximum training epochs.")] = None,  # noqa: UP045
) -> None:
    """Generate a synthetic log with known causes, run both modes and write the full report."""
    from eventlift.console import RichProgress, demo_table
    from eventlift.demo import run_demo

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
            f"top position bucket {recovery['top_position_bucket']}."
        )
    output.print(f"Wrote {out}/ in {time.perf_counter() - started:.0f}s.")


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="TOML config file.", show_default=False)],
    mode: Annotated[
        str, typer.Option(help="no_funnel, with_funnel, or both (default: \\[output] modes).")
    ] = "",
    method: Annotated[
        str,
        typer.Option(
            help="Attribution method: grad_x_input, integrated_gradients, attention, "
            "attention_rollout or occlusion (default: \\[attribution] method)."
        ),
    ] = "",
) -> None:
    """Run the pipeline on your own events as described by CONFIG."""
    from eventlift.config import MODES
    from eventlift.console import RichProgress, run_table
    from eventlift.data.readers import read_events, read_stores
    from eventlift.pipeline import resolve_config, run_prepared

    started = time.perf_counter()
    try:
        settings = resolve_config(config)
        if method:
            settings = settings.replace(attribution={"method": method})
        if mode and mode not in (*MODES, "both"):
            raise EventliftError(f"--mode must be one of {', '.join(MODES)} or both, got {mode!r}.")
        modes = list(MODES) if mode == "both" else [mode] if mode else settings.output.modes
        frame = read_events(None, settings)
        stores = read_stores(settings.input.stores) if settings.input.stores else None
        progress = RichProgress(console)
        for name in modes:
            result = run_prepared(frame, settings, name, stores=stores, progress=progress)
            output.print(run_table(result))
    except EventliftError as error:
        _fail(error)
    output.print(f"Wrote {settings.output.dir}/ in {time.perf_counter() - started:.0f}s.")


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
