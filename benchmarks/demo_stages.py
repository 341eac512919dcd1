"""Time the demo end to end and per stage; prints a table.

    python benchmarks/demo_stages.py [--sessions 30000] [--seed 0]

Each stage's wall time comes from the run summaries; the total includes data generation.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from eventlift.workflow.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        demo = run_demo(out, n_sessions=args.sessions, seed=args.seed)
        total = time.perf_counter() - started
    stages = list(next(iter(demo.results.values())).summary["timings_s"])
    print(
        f"demo: {args.sessions:,} sessions, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, total {total:.1f} s"
    )
    print(f"{'stage':<14}" + "".join(f"{mode:>14}" for mode in demo.results))
    for stage in stages:
        cells = "".join(
            f"{r.summary['timings_s'].get(stage, 0.0):>13.1f}s" for r in demo.results.values()
        )
        print(f"{stage:<14}{cells}")
    for mode, result in demo.results.items():
        training = result.summary["training"]
        print(
            f"{mode}: {len(training['history'])} epochs, "
            f"{training['sessions_per_second']:.0f} training sessions/s, "
            f"test AUC {result.metrics['test_auc']:.3f} (oracle {demo.oracle_auc:.3f})"
        )


if __name__ == "__main__":
    main()
