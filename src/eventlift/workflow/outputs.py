"""The files and database tables of one mode, and its run summary.

Layout under ``[output] dir``::

    outputs/best_transformer_<mode>.safetensors + .json
    outputs/gradient_attribution_<mode>.csv + .parquet      one row per event
    outputs/{event_type,position,store,event_position}_attribution_<mode>.csv
    outputs/event_position_matrix_<mode>.csv
    outputs/triangulation_<mode>.csv, rank_agreement_<mode>.csv, event_type_removal_<mode>.csv
    outputs/seed_stability_<mode>.csv                         with [attribution] stability_seeds
    outputs/run_summary_<mode>.json
    plots/attention_attribution_analysis_<mode>.png
    eventlift.duckdb                                          the same tables

A table the run's roles cannot fill (the store table without ``[columns] store_id``) is not
written, and one left by an earlier run is removed from the folder and the database; the run
summary's ``skipped_outputs`` says why.

Every file is written under a temporary name and moved into place when complete. The event-level
table is streamed to its files in chunks of sessions (:mod:`eventlift.sinks.event_level`) and
loaded into the database from its Parquet file, so it is never held whole in memory.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from eventlift.config import Config
from eventlift.core.atomic import write_csv, write_json
from eventlift.core.output_names import OUTPUT_NAMES
from eventlift.core.sql import duckdb_file
from eventlift.model.checkpoint import save_checkpoint
from eventlift.report.plots import plot_attribution_panels
from eventlift.sinks.event_level import write_event_level
from eventlift.sinks.runs import run_record
from eventlift.sinks.warehouse import write_result_tables

if TYPE_CHECKING:
    from eventlift.workflow.result import RunResult

__all__ = ["output_dir", "write_outputs", "write_summary"]


def output_dir(config: Config) -> Path:
    """The run's output folder."""
    return Path(config.output.dir)


def database_path(config: Config) -> Path | str | None:
    """The database target, or None when disabled.

    A DuckDB file (a path or ``duckdb:///path``; relative names live under the output folder) is
    a Path; any other SQLAlchemy URL is returned as given.
    """
    target = config.output.database
    if not target:
        return None
    file = duckdb_file(target)
    if file is None:
        return target
    path = Path(file)
    return path if path.is_absolute() else output_dir(config) / path


def write_outputs(result: RunResult, config: Config) -> dict[str, Path]:
    """Write the model, the tables (CSV, Parquet, DuckDB) and the plot of one mode."""
    mode, root = result.mode, output_dir(config)
    files: dict[str, Path] = {}
    weights, meta = save_checkpoint(
        root / "outputs" / f"best_transformer_{mode}",
        result.model,
        result.encoded.vocabularies,
        metadata={
            "mode": mode,
            "sessions": asdict(config.sessions),
            "metrics": result.metrics,
        },
    )
    files.update(model_weights=weights, model_config=meta)
    stem, event_table = OUTPUT_NAMES["event_level"]
    files["event_level"] = root / "outputs" / f"{stem}_{mode}.csv"
    files["event_level_parquet"] = root / "outputs" / f"{stem}_{mode}.parquet"
    write_event_level(
        result.event_level_chunks(), files["event_level"], files["event_level_parquet"]
    )
    written = {key: names for key, names in OUTPUT_NAMES.items() if key in result.tables}
    for key, (stem, _) in written.items():
        files[key] = write_csv(result.tables[key], root / "outputs" / f"{stem}_{mode}.csv")
    skipped = result.summary.get("skipped_outputs", {})
    left_out = {key: names for key, names in OUTPUT_NAMES.items() if names[0] in skipped}
    for stem, _ in left_out.values():  # an earlier run's file must not read as this run's
        (root / "outputs" / f"{stem}_{mode}.csv").unlink(missing_ok=True)
    if config.output.write_plots:
        files["plot"] = plot_attribution_panels(
            result.tables, root / "plots" / f"attention_attribution_analysis_{mode}.png", mode=mode
        )
    database = database_path(config)
    if database is not None:
        tables: dict[str, pd.DataFrame | Path] = {
            f"{event_table}_{mode}": files["event_level_parquet"],  # loaded from the file
            **{f"{table}_{mode}": result.tables[key] for key, (_, table) in written.items()},
        }
        written_to = write_result_tables(
            str(database),
            tables,
            run_record(result.summary, config, result.sessions.events),
            schema=config.output.schema or None,
            runs_table=config.output.runs_table,
            drop=[f"{table}_{mode}" for _, table in left_out.values()],
        )
        files["database"] = database if isinstance(database, Path) else written_to  # masked URL
    return files


def write_summary(result: RunResult, config: Config) -> Path:
    """Write ``run_summary_<mode>.json`` (last, so its timings include the writing)."""
    summary = {**result.summary, "files": {k: str(v) for k, v in result.files.items()}}
    path = output_dir(config) / "outputs" / f"run_summary_{result.mode}.json"
    return write_json(summary, path)
