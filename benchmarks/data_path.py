"""Reading, sessionising and encoding an event log: events per second per stage.

    python benchmarks/data_path.py [--sessions 46000 ...] [--seed 0] [--derive]

For each size, the demo's synthetic log is written to Parquet (not timed) and then:

- ``read``: :func:`eventlift.data.readers.read_events` with ``compact=True`` (as the pipeline
  reads) — Parquet text columns read dictionary-encoded into sorted categoricals, column mapping,
  timestamp parsing;
- ``sessions``: :func:`eventlift.data.sessions.build_sessions` — cleaning, ordering, labels,
  removal after conversion, funnel exclusion, truncation, positions (with ``--derive``, sessions
  are derived from the user id by the 30-minute inactivity rule instead of read);
- ``split + encode``: the deterministic split, the vocabularies of the training split and the
  padded integer matrices.

Each stage is timed once in a fresh pass (medians would hide the first-touch costs a user sees);
peak RSS is the process's high-water mark after the size (the log is generated in a child).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import resource
import tempfile
import time
from pathlib import Path

from eventlift.data.encode import build_vocabularies, encode_sessions
from eventlift.data.readers import read_events
from eventlift.data.sessions import build_sessions
from eventlift.data.split import assign_splits
from eventlift.data.synthetic import generate_events
from eventlift.workflow.demo import demo_config


def write_log(path: Path, n_sessions: int, seed: int) -> int:
    """Write the synthetic log to ``path`` (in a child process, so its memory is not counted)."""
    events, _ = generate_events(n_sessions=n_sessions, seed=seed)
    events.to_parquet(path)
    return len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, nargs="+", default=[46_000, 230_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--derive", action="store_true", help="derive sessions from user ids")
    args = parser.parse_args()
    print(f"{'sessions':>10}{'events':>12}{'read/s':>12}{'sessions/s':>12}{'encode/s':>12}"
          f"{'total/s':>12}{'seconds':>9}{'peak RSS':>10}")  # fmt: skip
    for n_sessions in args.sessions:
        with tempfile.TemporaryDirectory() as out:
            path = Path(out) / "events.parquet"
            with concurrent.futures.ProcessPoolExecutor(1) as child:
                n_events = child.submit(write_log, path, n_sessions, args.seed).result()
            config = demo_config(out, seed=args.seed)
            if args.derive:
                config = config.replace(sessions={"derive_sessions": True})
            times = []
            started = time.perf_counter()
            frame = read_events(str(path), config, compact=True)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            data = build_sessions(frame, config.sessions, config.columns, mode="no_funnel")
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            split = assign_splits(
                data.sessions, fractions=config.train.split_fractions, seed=config.train.seed,
                method=config.train.split, by_user=True,
            )  # fmt: skip
            vocabularies = build_vocabularies(data, split, config.train.min_count)
            encode_sessions(
                data, split, vocabularies,
                max_len=config.sessions.max_len, gap_buckets=config.model.gap_buckets,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
        rates = "".join(f"{n_events / seconds:>12,.0f}" for seconds in times)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        print(
            f"{n_sessions:>10,}{n_events:>12,}{rates}{n_events / sum(times):>12,.0f}"
            f"{sum(times):>9.1f}{peak:>9.2f}G"
        )


if __name__ == "__main__":
    main()
