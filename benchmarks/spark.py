"""Wall time per stage: the local path against the Spark path in local mode; prints a table.

    python benchmarks/spark.py [--sessions 46000] [--seed 0] [--masters local[1] local[2]]

The synthetic log (about 21.6 events per session, so 46,000 sessions are about 1M events) is
written once to a temporary Parquet file that every path reads; every run is ``no_funnel`` with
the demo's config. Each Spark master runs in a fresh process (its own JVM and SparkSession, UI
off, log level ERROR, ``spark.sql.shuffle.partitions`` = 2 × cores). Columns, in seconds:

- ``start``: starting the JVM and the SparkSession (not in ``total``).
- ``read``: Parquet to canonical events. Spark checks the first row and scans the timestamps for
  nulls here; the rest of its reading happens lazily inside ``prepare``.
- ``prepare``: sessionise, label, exclude, truncate, split and encode; on Spark the encoded
  sessions are cached and counted, so the stage is complete.
- ``train``: one epoch of the local trainer on the driver, the same code on every path; on Spark
  it includes collecting the encoded training and validation sessions to the driver.
- ``attribution``: gradient × input on the test split with one fixed set of weights (the local
  path's one-epoch model, on every path), plus the event-level rows; on Spark ``mapInPandas``
  over the test sessions, cached and counted.
- ``tables``: the roll-ups of the test split (event type, position, store, event at position and
  the event × position matrix): locally with the config's 200 bootstrap resamples, on Spark with
  normal-approximation intervals, collected to the driver.
- ``rows``: event-level rows of the test split; ``max|dlift|``: largest difference of the
  event-type lift from the local path's (a check that every path computed the same thing).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from eventlift.analysis.scoring import score_sessions, tabulate_scores
from eventlift.config import Config
from eventlift.core.timer import StageTimer
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events
from eventlift.data.synthetic import generate_events
from eventlift.model.trainer import seed_everything, train
from eventlift.model.transformer import EventTransformer
from eventlift.workflow.demo import demo_config

MODE = "no_funnel"
STAGES = ("read", "prepare", "train", "attribution", "tables")


def local_path(path: str, config: Config) -> tuple[dict[str, Any], EventTransformer]:
    """The local path's stages; returns the timings, the results and its one-epoch model."""
    watch = StageTimer()
    with watch.stage("read"):
        frame = read_events(path, config)
    with watch.stage("prepare"):
        data, split, encoded = prepare_sessions(frame, config, MODE)
    seed_everything(config.train.seed)
    sizes = {name: len(vocab) for name, vocab in encoded.vocabularies.items()}
    model = EventTransformer(config.model, sizes, config.sessions.max_len)
    with watch.stage("train"):
        train(model, encoded, config.train)
    model.eval()
    with watch.stage("attribution"):
        rows = encoded.indices("test")
        scores = score_sessions(model, encoded, config.attribution, rows=rows)
    with watch.stage("tables"):
        event_level, tables = tabulate_scores(
            data, split, scores, config.attribution, seed=config.train.seed, rows=rows
        )
    result = {"seconds": watch.seconds, "rows": len(event_level), "events": len(frame),
              "sessions": len(encoded), "test": len(rows), "lift": _lift(tables)}  # fmt: skip
    return result, model


def spark_path(master: str, path: str, config: Config, model: EventTransformer) -> dict[str, Any]:
    """The Spark path's stages on ``master``, in a fresh SparkSession (run in its own process)."""
    from pyspark.sql import functions as F

    from eventlift.spark.attribute import attribute_spark
    from eventlift.spark.canonical import load_events, to_canonical
    from eventlift.spark.prepare import prepare_sessions as spark_prepare
    from eventlift.spark.session import local_spark
    from eventlift.spark.settings import SparkSettings
    from eventlift.spark.tables import attribution_tables_spark
    from eventlift.spark.train import train_on_driver

    inside = master.removeprefix("local[").removesuffix("]")
    cores = (os.cpu_count() or 1) if inside == "*" else int(inside)
    watch = StageTimer()
    with watch.stage("start"):
        spark = local_spark(
            master,
            "eventlift-benchmark",
            driver_memory="4g",
            sql_shuffle_partitions=2 * cores,
        )
    try:
        with watch.stage("read"):
            frame, label = load_events(spark, path, config)
            canonical = to_canonical(frame, config, source=label)
        with watch.stage("prepare"):
            prepared = spark_prepare(canonical, config, MODE, source=label)
            prepared.sessions = prepared.sessions.cache()
            prepared.sessions.count()
        with watch.stage("train"):
            train_on_driver(prepared, config, SparkSettings())
        with watch.stage("attribution"):
            test = prepared.sessions.filter(F.col("split") == "test")
            event_level = attribute_spark(
                test, model, method=config.attribution.method,
                batch_size=config.attribution.batch_size,
            ).cache()  # fmt: skip
            rows = event_level.count()
        with watch.stage("tables"):
            found = attribution_tables_spark(
                event_level,
                position_buckets=config.attribution.position_buckets,
                min_support=config.attribution.min_support,
            )
            tables = {name: table.toPandas() for name, table in found.items()}
    finally:
        spark.stop()
    return {"seconds": watch.seconds, "rows": rows, "lift": _lift(tables)}


def _lift(tables: dict[str, pd.DataFrame]) -> pd.Series:
    return tables["event_type"].set_index("event")["lift"]


def machine() -> str:
    """Cores, memory, CPU model and the library versions, on one line."""
    import pyspark

    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB; Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"pyspark {pyspark.__version__}, pandas {pd.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=46_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--masters", nargs="+", default=["local[1]", "local[2]"])
    args = parser.parse_args()
    print(datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    print(machine())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        config = demo_config(out, seed=args.seed).replace(train={"epochs": 1})
        events, _ = generate_events(seed=args.seed, n_sessions=args.sessions)
        path = str(Path(out) / "events.parquet")
        events.to_parquet(path, index=False)
        del events
        local, model = local_path(path, config)
        results = {"local": local}
        spawn = multiprocessing.get_context("spawn")
        for master in args.masters:
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                results[master] = pool.submit(spark_path, master, path, config, model).result()
    print(
        f"{local['events']:,} events, {local['sessions']:,} sessions ({local['test']:,} test), "
        f"seed {args.seed}, {MODE}; one training epoch; wall {time.perf_counter() - started:.0f} s"
    )
    header = ("path", "start", *STAGES, "total", "rows", "max|dlift|")
    print(f"{header[0]:<10}" + "".join(f"{h:>12}" for h in header[1:]))
    for name, result in results.items():
        seconds = result["seconds"]
        start = f"{seconds['start']:.1f}" if "start" in seconds else "-"
        total = sum(seconds[s] for s in STAGES)
        diff = (result["lift"] - local["lift"]).abs().max()
        cells = [start, *(f"{seconds[s]:.1f}" for s in STAGES), f"{total:.1f}",
                 f"{result['rows']:,}", f"{diff:.1e}"]  # fmt: skip
        print(f"{name:<10}" + "".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()
