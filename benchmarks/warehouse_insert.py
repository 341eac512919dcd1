"""Insert an event-level table into PostgreSQL four ways and print the seconds of each.

    scripts/start-postgres.sh && python benchmarks/warehouse_insert.py [--rows N] [--repeat R]

Compares pandas ``to_sql`` (multi-row INSERTs, and its default executemany), SQLAlchemy Core
``executemany`` in chunks (what eventlift uses for dialects other than PostgreSQL), and psycopg
``COPY ... FROM STDIN`` (what eventlift uses for PostgreSQL). Needs the ``warehouse`` extra and a
server at ``EVENTLIFT_TEST_POSTGRES_URL`` (default: the one scripts/start-postgres.sh starts).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from eventlift.sinks.warehouse import CHUNK_ROWS, _stage, result_table

URL = os.environ.get(
    "EVENTLIFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:55432/eventlift_test"
)


def event_level(rows: int, seed: int = 0) -> pd.DataFrame:
    """A frame shaped like the event-level result table (13 columns, a few nulls)."""
    rng = np.random.default_rng(seed)
    sessions = rng.integers(0, rows // 10, rows)
    events = np.array(["m_card_view", "m_card_click", "search", "store_page_load", "tab"])
    stores = pd.array([f"st{i}" for i in rng.integers(0, 300, rows)], dtype="string")
    stores[rng.random(rows) < 0.3] = pd.NA
    return pd.DataFrame(
        {
            "session_id": pd.array([f"s{s}" for s in sessions], dtype="string"),
            "position": rng.integers(1, 51, rows),
            "event": pd.array(events[rng.integers(0, 5, rows)], dtype="string"),
            "event_category": pd.array(["browse"] * rows, dtype="string"),
            "store_id": stores,
            "store_name": stores,
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(rows), "s"),
            "attribution_raw": rng.normal(size=rows),
            "attribution": rng.random(rows),
            "converted": rng.random(rows) < 0.15,
            "predicted_probability": rng.random(rows),
            "split": pd.array(["test"] * rows, dtype="string"),
            "session_length": rng.integers(1, 51, rows),
        }
    )


def main() -> None:
    import sqlalchemy as sa

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    frame = event_level(args.rows)
    engine = sa.create_engine(URL)

    def fresh(name: str) -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')

    def pandas_multi() -> None:
        frame.to_sql("bench", engine, if_exists="replace", index=False, method="multi",
                     chunksize=1_000)  # fmt: skip

    def pandas_default() -> None:
        frame.to_sql("bench", engine, if_exists="replace", index=False, chunksize=CHUNK_ROWS)

    def core(copy: bool) -> None:
        fresh("bench")
        table = result_table("bench", frame, sa.MetaData(), None, engine.dialect)
        with engine.begin() as connection:
            _stage(connection, table, frame, CHUNK_ROWS, copy=copy)

    ways = {
        "pandas to_sql(method='multi', chunksize=1000)": pandas_multi,
        f"pandas to_sql(chunksize={CHUNK_ROWS}) (executemany)": pandas_default,
        f"SQLAlchemy Core executemany, chunks of {CHUNK_ROWS}": lambda: core(copy=False),
        f"psycopg COPY FROM STDIN, chunks of {CHUNK_ROWS} (eventlift)": lambda: core(copy=True),
    }
    print(f"{args.rows:,} rows x {frame.shape[1]} columns into {engine.url.render_as_string()}")
    for label, way in ways.items():
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            way()
            seconds.append(time.perf_counter() - start)
        with engine.connect() as connection:
            count = connection.exec_driver_sql('SELECT count(*) FROM "bench"').scalar()
        assert count == args.rows, (label, count)
        print(f"{min(seconds):7.2f} s  {args.rows / min(seconds):>9,.0f} rows/s  {label}")
    fresh("bench")


if __name__ == "__main__":
    main()
