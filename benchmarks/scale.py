"""One large synthetic log end to end: wall time and memory per stage, both modes.

    python benchmarks/scale.py [--sessions 100000] [--seed 0] [--length-median 18] [--log PATH]

The log is generated into a temporary folder by a child process (not timed, not counted in the
memory), then :func:`eventlift.compare` runs both modes on one read with the default config
(early stopping, gradient × input on the test split, 200 bootstrap resamples, every file and the
DuckDB tables written, the report built). Each stage prints its wall seconds, the resident memory
after it and the process's peak so far, so the stage that sets the peak is visible; the
stages of `no_funnel` print first, then those of `with_funnel` (the read is shared, untimed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import eventlift
from eventlift.data.synthetic import generate_events
from eventlift.workflow import pipeline
from eventlift.workflow.demo import demo_config


def memory_gb() -> tuple[float, float]:
    """Resident and peak resident memory of this process, in GB (Linux ``/proc``)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return tuple(int(fields[key].split()[0]) / 1e6 for key in ("VmRSS", "VmHWM"))


def write_log(path: Path, n_sessions: int, seed: int, length_median: float) -> int:
    events, _ = generate_events(n_sessions=n_sessions, seed=seed, length_median=length_median)
    events.to_parquet(path)
    return len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--length-median", type=float, default=18.0)
    parser.add_argument(
        "--log", type=Path, help="an existing Parquet log to use instead of generating one"
    )
    args = parser.parse_args()
    timed = pipeline.StageTimer.stage

    @contextlib.contextmanager
    def reporting(self: pipeline.StageTimer, name: str) -> Iterator[None]:
        started = time.perf_counter()
        with timed(self, name):
            yield
        resident, peak = memory_gb()
        print(f"{name:<14}{time.perf_counter() - started:>9.1f}{resident:>11.2f}{peak:>9.2f}")

    pipeline.StageTimer.stage = reporting
    with tempfile.TemporaryDirectory() as out:
        path = args.log or Path(out) / "events.parquet"
        if args.log is None:
            with concurrent.futures.ProcessPoolExecutor(1) as child:
                n_events = child.submit(
                    write_log, path, args.sessions, args.seed, args.length_median
                ).result()
        else:
            import pyarrow.parquet as pq

            n_events = pq.ParquetFile(path).metadata.num_rows
        print(f"{path.name}: {n_events:,} events; start at {memory_gb()[0]:.2f} GB")
        print(f"{'stage':<14}{'seconds':>9}{'RSS GB':>11}{'peak GB':>9}")
        started = time.perf_counter()
        results, _ = eventlift.compare(str(path), demo_config(out, seed=args.seed))
        total = time.perf_counter() - started
    for mode, result in results.items():
        training = result.summary["training"]
        last = training["history"][-1]
        print(
            f"{mode}: {len(training['history'])} validation checks, {last['sessions_seen']:,} "
            f"training sessions seen ({last['epoch']} epochs started) at "
            f"{training['sessions_per_second']:,.0f} sessions/s, best check in epoch "
            f"{result.metrics['best_epoch']}, test AUC {result.metrics['test_auc']:.3f}"
        )
    print(f"total {total:.0f} s, peak RSS {memory_gb()[1]:.2f} GB")


if __name__ == "__main__":
    main()
