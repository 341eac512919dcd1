"""The Spark path gives the local path's sessions, splits, encodings, counts, scores and tables.

One small synthetic log (with a duplicate row, a null event name and truncation) goes through
both paths. Sessions, labels, positions, splits, vocabularies, encodings and counts must be
identical; for the same weights, attributions must agree within 1e-5 (float32 batches differ);
the tables built in Spark from the local event-level rows must equal the local tables to 1e-9 in
every column except the intervals, which are a normal approximation in Spark and a bootstrap
locally (there the Spark interval must be finite and contain the lift where both sides hold two
or more sessions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from eventlift.analysis.tables import attribution_tables
from eventlift.attribution import attribute_sessions, event_level_frame, get_attributor
from eventlift.config import Config
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events
from eventlift.data.synthetic import generate_events
from eventlift.model.transformer import EventTransformer
from eventlift.workflow.demo import demo_config
from support.logs import random_log


# The PostgreSQL JDBC driver from the Debian package (scripts/install-test-packages.sh).
def _odd_log() -> pd.DataFrame:
    events, _ = generate_events(n_sessions=300, seed=3)
    events = pd.concat([events, events.iloc[[5]]], ignore_index=True)  # one exact duplicate
    events.loc[10, "event"] = None  # one null event name
    return events


@pytest.fixture(scope="module")
def both(spark):
    from eventlift.spark.canonical import to_canonical
    from eventlift.spark.prepare import prepare_sessions as spark_prepare

    events = _odd_log()
    config = demo_config("unused", seed=1).replace(train={"min_count": 2}, sessions={"max_len": 20})
    frame = read_events(events, config)
    data, split, encoded = prepare_sessions(frame, config, "no_funnel")
    prepared = spark_prepare(
        to_canonical(spark.createDataFrame(events), config), config, "no_funnel"
    )
    prepared.sessions = prepared.sessions.cache()
    rows = prepared.sessions.toPandas().set_index("session_id").loc[encoded.session_ids]
    return {"data": data, "split": split, "encoded": encoded, "prepared": prepared, "rows": rows}


def test_sessions_labels_splits_and_counts_match(both):
    data, rows = both["data"], both["rows"]
    sessions = data.sessions.set_index("session_id")
    assert both["prepared"].counts == data.counts
    assert data.counts["dropped_rows"]["duplicate_rows"] == 1
    assert data.counts["dropped_rows"]["null_event_name"] == 1
    assert data.counts["truncated_sessions"] > 0
    assert (rows["converted"].to_numpy() == sessions["converted"].to_numpy()).all()
    assert (rows["n_events"].to_numpy() == sessions["n_events"].to_numpy()).all()
    assert (rows["user_id"].to_numpy() == sessions["user_id"].to_numpy()).all()
    assert (rows["split"].to_numpy() == both["split"].to_numpy()).all()
    events = data.events
    assert np.concatenate(rows["events"].to_list()).tolist() == events["event"].tolist()
    stores = np.concatenate(rows["stores"].to_list())
    assert pd.isna(stores).tolist() == events["store_id"].isna().tolist()
    ts = np.concatenate(rows["ts"].to_list())
    assert (ts == events["timestamp"].astype("datetime64[us]").astype(np.int64)).all()
    gaps = np.concatenate(rows["gaps"].to_list())
    assert np.allclose(gaps, events["gap_seconds"].to_numpy(dtype=float), rtol=1e-12, atol=1e-9)


def test_vocabularies_and_encodings_match(both):
    encoded, rows, prepared = both["encoded"], both["rows"], both["prepared"]
    assert prepared.vocabularies == encoded.vocabularies
    for feature, column in (("event", "event_ids"), ("category", "category_ids"),
                            ("store", "store_ids"), ("gap", "gap_ids")):  # fmt: skip
        for i, ids in enumerate(rows[column]):
            assert np.array_equal(np.asarray(ids), encoded.inputs[feature][i, : len(ids)])
            assert not encoded.inputs[feature][i, len(ids) :].any()


def test_same_weights_give_same_attributions_and_tables(spark, both):
    from eventlift.spark.attribute import attribute_spark
    from eventlift.spark.tables import attribution_tables_spark

    data, split, encoded = both["data"], both["split"], both["encoded"]
    torch.manual_seed(0)
    sizes = {name: len(v) for name, v in encoded.vocabularies.items()}
    model = EventTransformer(Config().model, sizes, 20).eval()
    scores = attribute_sessions(get_attributor("grad_x_input", model), encoded, batch_size=64)
    local = event_level_frame(data, split, scores)
    remote = attribute_spark(both["prepared"].sessions, model, batch_size=64).toPandas()
    assert len(remote) == len(local)
    merged = local.merge(remote, on=["session_id", "position"], suffixes=("", "_spark"))
    assert len(merged) == len(local)
    for column in ("attribution_raw", "attribution", "predicted_probability"):
        assert np.abs(merged[column] - merged[f"{column}_spark"]).max() < 1e-5, column
    for column in ("event", "split", "converted", "session_length", "timestamp"):
        assert (merged[column] == merged[f"{column}_spark"]).all(), column

    test = local[local["split"] == "test"].reset_index(drop=True)
    expected = attribution_tables(test, min_support=5, bootstrap=0)
    frame = spark.createDataFrame(test.assign(timestamp=test["timestamp"].astype("datetime64[us]")))
    found = {k: v.toPandas() for k, v in attribution_tables_spark(frame, min_support=5).items()}
    for name, table in expected.items():
        _assert_same_table(table, found[name], name)


def _assert_same_table(expected: pd.DataFrame, found: pd.DataFrame, name: str) -> None:
    assert list(found.columns) == list(expected.columns), name
    assert len(found) == len(expected), name
    for column in expected.columns:
        a, b = expected[column], found[column]
        if column.endswith(("_ci_low", "_ci_high")):
            continue
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            a, b = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            assert np.array_equal(np.isnan(a), np.isnan(b)), (name, column)
            assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), (name, column)
        else:
            assert (
                a.astype(object).where(a.notna(), None).tolist()
                == b.astype(object).where(b.notna(), None).tolist()
            ), (name, column)
    if "lift_ci_low" in found.columns:
        defined = found["lift_ci_low"].notna()
        assert defined.any(), name
        rows = found[defined]
        assert (rows["lift_ci_low"] <= rows["lift"] + 1e-12).all(), name
        assert (rows["lift"] <= rows["lift_ci_high"] + 1e-12).all(), name


def test_derived_sessions_and_time_split_match(spark):
    from eventlift.spark.canonical import to_canonical
    from eventlift.spark.prepare import prepare_sessions as spark_prepare

    log = random_log(160, seed=4)
    log["timestamp"] = log["timestamp"] + pd.to_timedelta(
        np.where(np.arange(len(log)) % 7 == 0, 3600, 0), unit="s"
    )  # some gaps over 30 minutes split sessions
    config = Config.from_dict(
        {
            "columns": {
                "session_id": "",
                "user_id": "user_id",
                "store_id": "store_id",
                "event_category": "event_category",
            },
            "sessions": {"conversion_events": ["buy"], "max_len": 6, "truncate": "tail"},
            "train": {"min_count": 1, "split": "time"},
        }
    )
    canonical = log.drop(columns=["row_number"])
    data, split, encoded = prepare_sessions(read_events(canonical, config), config, "with_funnel")
    prepared = spark_prepare(to_canonical(spark.createDataFrame(canonical), config), config,
                             "with_funnel")  # fmt: skip
    rows = prepared.sessions.toPandas().set_index("session_id")
    assert sorted(rows.index) == sorted(encoded.session_ids)
    rows = rows.loc[encoded.session_ids]
    assert prepared.counts == data.counts
    assert (rows["split"].to_numpy() == split.to_numpy()).all()
    assert prepared.vocabularies == encoded.vocabularies
    for i, ids in enumerate(rows["event_ids"]):
        assert np.array_equal(np.asarray(ids), encoded.inputs["event"][i, : len(ids)])


@pytest.mark.parametrize(
    "window",
    [{"window": "prefix", "window_events": 6, "window_minutes": 4.0}, {"window": "matched"}],
    ids=["prefix", "matched"],
)
def test_session_windows_match(spark, window):
    from eventlift.spark.canonical import to_canonical
    from eventlift.spark.prepare import prepare_sessions as spark_prepare

    events = _odd_log()
    config = demo_config("unused", seed=1).replace(
        train={"min_count": 2}, sessions={"max_len": 20, **window}
    )
    data, _, encoded = prepare_sessions(read_events(events, config), config, "no_funnel")
    prepared = spark_prepare(
        to_canonical(spark.createDataFrame(events), config), config, "no_funnel"
    )
    rows = prepared.sessions.toPandas().set_index("session_id").loc[encoded.session_ids]
    assert prepared.counts == data.counts
    assert data.counts["windowed_sessions"] > 0
    assert np.concatenate(rows["events"].to_list()).tolist() == data.events["event"].tolist()
