"""Result tables in PostgreSQL (a real server), the runs table, atomic replacement, safe names.

Needs the server of scripts/start-postgres.sh (skipped without it, failed under CI); the Snowflake
test only compiles SQL and needs no server.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import duckdb
import numpy as np
import pandas as pd
import pytest

import eventlift
from eventlift.config import Config
from eventlift.core.output_names import OUTPUT_NAMES
from eventlift.exceptions import ConfigError, DataError
from eventlift.model.capacity import settle_capacity
from eventlift.sinks.runs import RUNS_COLUMNS, config_hash, data_fingerprint, run_record
from eventlift.sinks.warehouse import write_result_tables, write_warehouse_tables
from eventlift.workflow.outputs import write_outputs
from support.logs import random_log
from support.warehouse import fresh_schema, postgres_url, table_names

sa = pytest.importorskip("sqlalchemy")

CORE_TABLES = [
    "event_level",
    "event_type",
    "position",
    "store",
    "event_position",
    "event_position_matrix",
    "triangulation",
    "rank_agreement",
    "event_type_removal",
]
HOSTILE = ['x"; DROP TABLE runs; --', "has space", "quo'te", 'dq"x', "1digit", "semi;colon"]


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_url()


@pytest.fixture(scope="module")
def module_schema(pg_url):
    yield from fresh_schema(pg_url)


@pytest.fixture
def schema(pg_url):
    yield from fresh_schema(pg_url)


@pytest.fixture(scope="module")
def two_runs(pg_url, module_schema, tmp_path_factory):
    """The same tiny run twice into PostgreSQL: the second replaces the first's tables."""
    config = Config.from_dict(
        {
            "columns": {
                "session_id": "session_id",  # as given is as resolved: the hash compares
                "user_id": "user_id",
                "event_category": "event_category",
                "store_id": "store_id",
                "store_name": "store_name",
            },
            "sessions": {"conversion_events": ["buy"], "max_len": 12},
            "model": {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 16},
            "train": {"epochs": 1, "batch_size": 64, "min_count": 1},
            "attribution": {"bootstrap": 10, "min_support": 2, "faithfulness_sessions": 20},
            "output": {
                "dir": str(tmp_path_factory.mktemp("warehouse")),
                "database": pg_url,
                "schema": module_schema,
                "write_plots": False,
            },
        }
    )
    events = random_log(160)
    first = eventlift.run(events, config, mode="no_funnel")
    second = eventlift.run(events, config, mode="no_funnel")
    return first, second, config


def written_tables(result) -> dict[str, str]:
    """Table key -> database table stem, for every result table the run produced (the
    event-level table is not held in ``result.tables``: it is streamed to its files)."""
    return {
        key: stem
        for key, (_, stem) in OUTPUT_NAMES.items()
        if key == "event_level" or key in result.tables
    }


def read_table(url: str, schema: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        return pd.read_sql_query(sa.text(f'SELECT * FROM "{schema}"."{table}"'), engine)
    finally:
        engine.dispose()


def canonical_rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as comparable Python values (missing -> None, timestamps -> UTC ISO), sorted."""

    def plain(value):
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, float | np.floating) and math.isnan(value):
            return None
        if isinstance(value, pd.Timestamp | dt.datetime):
            stamp = pd.Timestamp(value)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            return stamp.isoformat()
        return value.item() if isinstance(value, np.generic) else value

    return sorted((tuple(plain(v) for v in row) for row in frame.itertuples(index=False)), key=repr)


def test_every_result_table_round_trips_exactly(two_runs, pg_url, module_schema):
    _, second, _ = two_runs
    stored = table_names(pg_url, module_schema)
    assert not {name for name in stored if name.endswith("__staging")}
    frames = {**second.tables, "event_level": second.event_level()}
    assert set(CORE_TABLES) <= set(frames)
    for key, stem in written_tables(second).items():
        frame = frames[key]
        back = read_table(pg_url, module_schema, f"{stem}_no_funnel")
        assert list(back.columns) == [str(c) for c in frame.columns], key
        assert len(back) == len(frame) > 0, key  # replaced, not appended to
        assert canonical_rows(back) == canonical_rows(frame), key


def test_column_types_follow_the_dtypes(two_runs, pg_url, module_schema):
    engine = sa.create_engine(pg_url)
    with engine.connect() as connection:
        types = dict(
            connection.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = :schema AND table_name = :table"
                ),
                {"schema": module_schema, "table": "event_attribution_no_funnel"},
            ).all()
        )
    engine.dispose()
    assert types["session_id"] == "text"
    assert types["position"] == "bigint"
    assert types["timestamp"] == "timestamp with time zone"
    assert types["attribution"] == "double precision"
    assert types["converted"] == "boolean"


def test_runs_table_gains_one_row_per_run(two_runs, pg_url, module_schema):
    first, second, config = two_runs
    runs = read_table(pg_url, module_schema, "runs").sort_values("started_at")
    assert list(runs.columns) == list(RUNS_COLUMNS)
    assert len(runs) == 2 and runs["run_id"].nunique() == 2
    expected_tables = ",".join(f"{stem}_no_funnel" for stem in written_tables(first).values())
    now = pd.Timestamp.now(tz="UTC")
    for (_, row), result in zip(runs.iterrows(), (first, second), strict=True):
        assert row["mode"] == "no_funnel"
        settled, _ = settle_capacity(config, result.summary["capacity"]["training_sessions"])
        assert row["config_hash"] == config_hash(settled)  # the configuration the run used
        fingerprint = data_fingerprint(result.summary["counts"], result.event_level())
        assert row["data_fingerprint"] == fingerprint
        assert row["test_auc"] == result.metrics["test_auc"]
        assert row["val_auc"] == result.metrics["val_auc"]
        assert row["logistic_test_auc"] == result.baselines["logistic"]["test_auc"]
        assert row["lightgbm_test_auc"] == result.baselines["lightgbm"]["test_auc"]
        assert row["rows_read"] == result.summary["counts"]["rows_read"]
        assert row["attribution_method"] == "grad_x_input"
        assert row["eventlift_version"] == eventlift.__version__
        assert row["tables"] == expected_tables
        assert row["started_at"] <= row["finished_at"] <= now
        assert now - row["started_at"] < pd.Timedelta(minutes=10)
    assert runs["data_fingerprint"].nunique() == 1  # the same data twice
    assert first.files["database"] == pg_url  # no password here; masked otherwise


def test_duckdb_default_gets_tables_and_runs(two_runs, tmp_path):
    result, _, config = two_runs
    local = config.replace(
        output={"dir": str(tmp_path), "database": "eventlift.duckdb", "schema": None}
    )
    for _ in range(2):
        files = write_outputs(result, local)
    assert files["database"] == tmp_path / "eventlift.duckdb"
    with duckdb.connect(str(files["database"]), read_only=True) as connection:
        n = connection.execute("SELECT count(*) FROM event_attribution_no_funnel").fetchone()[0]
        runs = connection.execute("SELECT mode, test_auc, tables FROM runs").fetchall()
    assert n == len(result.event_level())
    assert len(runs) == 2 and runs[0][0] == "no_funnel"
    assert runs[0][1] == result.metrics["test_auc"]
    assert runs[0][2].split(",")[0] == "event_attribution_no_funnel"


@pytest.mark.parametrize("one_transaction", [True, False], ids=["transactional", "stepwise"])
def test_failure_half_way_keeps_previous_tables(pg_url, schema, one_transaction):
    old = {
        "res_a": pd.DataFrame({"id": [1, 2], "name": ["a", "b"]}),
        "res_b": pd.DataFrame({"x": [0.5]}),
    }
    write_warehouse_tables(
        pg_url, old, {"run_id": "first"}, schema=schema, transactional_ddl=one_transaction
    )
    new = {
        "res_a": pd.DataFrame({"id": [7, 8, 9], "name": ["x", "y", "z"]}),
        "res_b": pd.DataFrame({"x": ["fine", "nul\x00byte"]}),  # PostgreSQL text holds no NUL
    }
    with pytest.raises(DataError, match=r"(?s)writing table 'res_b' failed.*tables are unchanged"):
        write_warehouse_tables(
            pg_url, new, {"run_id": "second"}, schema=schema, transactional_ddl=one_transaction
        )
    assert table_names(pg_url, schema) == {"res_a", "res_b", "runs"}  # no staging left
    for name, frame in old.items():
        assert canonical_rows(read_table(pg_url, schema, name)) == canonical_rows(frame)
    assert read_table(pg_url, schema, "runs")["run_id"].tolist() == ["first"]


def test_failure_in_the_swap_transaction_rolls_it_back(pg_url, schema):
    old = {"res_a": pd.DataFrame({"id": [1]}), "res_b": pd.DataFrame({"id": [2]})}
    write_result_tables(pg_url, old, {"run_id": "first"}, schema=schema)
    new = {"res_a": pd.DataFrame({"id": [10, 11]}), "res_b": pd.DataFrame({"id": [20]})}
    bad_record = {"run_id": "second", "test_auc": "not a number"}  # fails after the renames
    with pytest.raises(DataError, match=r"(?s)appending the runs row failed.*unchanged"):
        write_result_tables(pg_url, new, bad_record, schema=schema)
    assert table_names(pg_url, schema) == {"res_a", "res_b", "runs"}
    assert read_table(pg_url, schema, "res_a")["id"].tolist() == [1]
    assert read_table(pg_url, schema, "res_b")["id"].tolist() == [2]
    assert read_table(pg_url, schema, "runs")["run_id"].tolist() == ["first"]


def test_large_frames_go_in_chunks_and_keep_nulls(pg_url, schema):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "n": pd.array(
                np.where(rng.random(2_500) < 0.1, None, rng.integers(0, 9, 2_500)), "Int64"
            ),
            "f": np.where(rng.random(2_500) < 0.1, np.nan, rng.normal(size=2_500)),
            "s": pd.array(np.where(rng.random(2_500) < 0.1, None, "v"), dtype="string"),
            "t": pd.Timestamp("2024-03-01", tz="Europe/Paris")
            + pd.to_timedelta(np.arange(2_500), "min"),
            "o": [{"k": i} for i in range(2_500)],
        }
    )
    write_result_tables(pg_url, {"big": frame}, None, schema=schema, chunk_rows=1_000)
    back = read_table(pg_url, schema, "big")
    assert len(back) == 2_500 and back["n"].isna().sum() == frame["n"].isna().sum()
    assert back["f"].isna().sum() == frame["f"].isna().sum()
    assert (pd.to_datetime(back["t"], utc=True).sort_values().iloc[0]) == frame["t"].iloc[0]
    assert back["o"].iloc[0].startswith('{"k": ')


def test_other_dialects_get_chunked_inserts(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"  # no COPY: the executemany path, no server
    frame = pd.DataFrame(
        {"n": range(25), "s": ["x", None] * 12 + ["y"], "f": [0.25, np.nan, 1e-300, 7.0, -1.5] * 5}
    )
    for run in ("first", "second"):
        assert write_result_tables(url, {"res": frame}, {"run_id": run}, chunk_rows=4) == url
    engine = sa.create_engine(url)
    back = pd.read_sql_query(sa.text("SELECT * FROM res"), engine)
    runs = pd.read_sql_query(sa.text("SELECT run_id, tables FROM runs"), engine)
    engine.dispose()
    assert canonical_rows(back) == canonical_rows(frame)
    assert runs.values.tolist() == [["first", "res"], ["second", "res"]]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_in_config_are_refused(name):
    with pytest.raises(ConfigError, match=r"\[output\] schema = .*not a plain identifier.*Fix"):
        Config.from_dict({"output": {"schema": name}})
    with pytest.raises(ConfigError, match=r"\[output\] runs_table = .*not a plain identifier"):
        Config.from_dict({"output": {"runs_table": name}})


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_drop_nothing(pg_url, schema, name, tmp_path):
    tables = {"res_a": pd.DataFrame({"id": [1, 2]})}
    write_result_tables(pg_url, tables, {"run_id": "first"}, schema=schema)
    attempts = [
        ({name: tables["res_a"]}, {"schema": schema}, r"result table name = .*plain identifier"),
        (tables, {"schema": name}, r"\[output\] schema = .*plain identifier"),
        (tables, {"schema": schema, "runs_table": name}, r"\[output\] runs_table = "),
    ]
    for frames, options, message in attempts:
        with pytest.raises(ConfigError, match=message):
            write_result_tables(pg_url, frames, {"run_id": "hostile"}, **options)
    assert table_names(pg_url, schema) == {"res_a", "runs"}
    assert read_table(pg_url, schema, "runs")["run_id"].tolist() == ["first"]
    duck = str(tmp_path / "results.duckdb")
    write_result_tables(duck, tables, {"run_id": "first"})
    with pytest.raises(ConfigError, match=r"plain identifier"):
        write_result_tables(duck, {name: tables["res_a"]}, {"run_id": "hostile"})
    with duckdb.connect(duck, read_only=True) as connection:
        assert connection.execute("SELECT run_id FROM runs").fetchall() == [("first",)]


def test_unreachable_output_names_the_masked_url():
    url = "postgresql+psycopg://ana:s3cret@127.0.0.1:1/db"
    with pytest.raises(
        ConfigError, match=r"ana:\*\*\*@127\.0\.0\.1:1/db.*connecting failed"
    ) as err:
        write_result_tables(url, {"t": pd.DataFrame({"a": [1]})}, None)
    assert "s3cret" not in str(err.value)
    with pytest.raises(ConfigError, match=r"no SQLAlchemy dialect 'nosuchdb'"):
        write_result_tables("nosuchdb://host/db", {"t": pd.DataFrame({"a": [1]})}, None)
    with pytest.raises(ConfigError, match=r"\[output\] database = .*neither a file path nor"):
        Config.from_dict({"output": {"database": "9bad://host"}})


def test_urls_are_shown_with_secrets_masked():
    from eventlift.core.sql import mask_url

    assert mask_url("postgresql+psycopg://ana:p%40ss@db:5432/x") == (
        "postgresql+psycopg://ana:***@db:5432/x"
    )
    assert mask_url("postgresql://ana@db/x") == "postgresql://ana@db/x"
    assert mask_url("snowflake://ana:pw@org-acct/db/sch?warehouse=wh&private_key=abc") == (
        "snowflake://ana:***@org-acct/db/sch?warehouse=wh&private_key=***"
    )


def test_snowflake_sql_compiles_with_quoted_identifiers():
    pytest.importorskip("snowflake.sqlalchemy")
    from snowflake.sqlalchemy import snowdialect
    from sqlalchemy.schema import CreateTable

    from eventlift.sinks.warehouse import result_table, runs_table_for, swap_statements

    dialect = snowdialect.dialect()
    metadata = sa.MetaData()
    frames = {
        "event_attribution_no_funnel": random_log(5).assign(**{"Region Name": "eu", "select": 1}),
        "event_type_attribution_no_funnel": pd.DataFrame({"event": ["a"], "lift": [0.1]}),
    }
    ddl = {}
    for name, frame in frames.items():
        table = result_table(f"{name}__staging", frame, metadata, "Analytics", dialect)
        ddl[name] = str(CreateTable(table).compile(dialect=dialect)).strip()
        assert ddl[name].startswith(f'CREATE TABLE "Analytics".{name}__staging (')
    events = ddl["event_attribution_no_funnel"]
    assert '"Region Name" TEXT' in events and '"select" BIGINT' in events
    assert "timestamp TIMESTAMP_TZ" in events and "row_number BIGINT" in events
    assert "lift DOUBLE" in ddl["event_type_attribution_no_funnel"]
    assert swap_statements(dialect, "store_attribution_no_funnel", "Analytics", exists=True) == [
        'ALTER TABLE "Analytics".store_attribution_no_funnel__staging '
        'SWAP WITH "Analytics".store_attribution_no_funnel',
        'DROP TABLE "Analytics".store_attribution_no_funnel__staging',
    ]
    assert swap_statements(dialect, "Runs2", None, exists=False) == [
        'ALTER TABLE "Runs2__staging" RENAME TO "Runs2"'
    ]
    runs = runs_table_for("runs", metadata, "Analytics")
    insert = runs.insert().values(run_record_example()).compile(dialect=dialect)
    assert str(insert).startswith('INSERT INTO "Analytics".runs (run_id, started_at')
    assert insert.params["mode"] == 'x"; DROP TABLE runs; --'  # a value: bound, not pasted
    assert "DROP TABLE" not in str(insert)


def run_record_example() -> dict:
    summary = {
        "mode": 'x"; DROP TABLE runs; --',
        "counts": {"rows_read": 10, "events": 8, "sessions": 2},
        "metrics": {"test_auc": 0.7, "val_auc": float("nan")},
        "baselines": {"logistic": {"test_auc": 0.6}},
        "timings_s": {"train": 1.5},
    }
    record = run_record(summary, Config())
    assert record["val_auc"] is None and record["test_auc"] == 0.7
    assert re.fullmatch(r"[0-9a-f]{64}", record["config_hash"])
    assert record["finished_at"] - record["started_at"] == dt.timedelta(seconds=1.5)
    return record
