"""The Spark run reports the local run's trust checks, and its output folder makes the report.

One ``with_funnel`` run on a small synthetic log (400 sessions, tail truncation so that the
funnel steps stay and leak, one epoch, a sample of 200 training and validation sessions) must
name the events the local probe names, with the same presence AUCs to 1e-9 and the same fixes;
carry both baselines and the faithfulness scorecard; and leave a folder from which
``build_report`` (``eventlift report DIR``) writes the leakage, baselines and faithfulness
sections. The presence AUCs of every event, not only the flagged ones, are compared on the
local sessions loaded into Spark.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eventlift.analysis.leakage import single_event_aucs
from eventlift.analysis.trust import find_leaks
from eventlift.attribution.faithfulness import FaithfulnessReport
from eventlift.core.output_names import OUTPUT_NAMES
from eventlift.data.prepare import prepare_sessions
from eventlift.data.readers import read_events
from eventlift.data.synthetic import FUNNEL_EVENTS, generate_events
from eventlift.report.html import build_report
from eventlift.workflow.demo import demo_config

MODE = "with_funnel"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The log, the config and the local path's labelled sessions and leak findings."""
    events, _ = generate_events(n_sessions=400, seed=5)
    out = tmp_path_factory.mktemp("spark_trust")
    config = demo_config(out, seed=1).replace(
        sessions={"max_len": 20, "truncate": "tail"},
        model={"d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32},
        train={"min_count": 2, "epochs": 1, "batch_size": 64},
        attribution={"min_support": 5, "faithfulness_sessions": 30},
        output={"dir": str(out), "modes": [MODE], "write_plots": False},
    )
    data, split, _ = prepare_sessions(read_events(events, config), config, MODE)
    labelled = data.sessions.assign(split=split.to_numpy())
    train = labelled[labelled["split"] == "train"]
    train_events = data.events[data.events["session_id"].isin(train["session_id"])]
    leaks, session_end = find_leaks(data, labelled, config)
    return {
        "events": events,
        "config": config,
        "train": train,
        "train_events": train_events,
        "aucs": single_event_aucs(train_events, train),
        "leaks": leaks,
        "session_end": session_end,
    }


@pytest.fixture(scope="module")
def result(spark, case):
    from eventlift.spark.run import run
    from eventlift.spark.settings import SparkSettings

    settings = SparkSettings(sample_sessions=200)
    frame = spark.createDataFrame(case["events"])
    return run(spark, frame, case["config"], settings=settings, mode=MODE)


def test_presence_aucs_of_every_event_match_the_local_probe(spark, case):
    from eventlift.spark.prepare import SparkSessions
    from eventlift.spark.trust import probe_leaks

    train = case["train"]
    arrays = (
        case["train_events"]
        .groupby("session_id", sort=False)
        .agg(events=("event", list), categories=("event_category", list))
    )
    sessions = train.set_index("session_id")[["converted", "split"]].join(arrays).reset_index()
    converted = int(train["converted"].sum())
    prepared = SparkSessions(
        spark.createDataFrame(sessions),
        vocabularies={},
        split_counts={"train": {"sessions": len(train), "converted": converted}},
    )
    table, records, session_end = probe_leaks(prepared, case["config"], MODE)
    assert session_end == case["session_end"]
    expected = case["aucs"]
    assert table["event"].tolist() == expected["event"].tolist()
    for column in ("n_sessions", "n_converted"):
        assert table[column].tolist() == expected[column].tolist(), column
    assert np.abs(table["auc"].to_numpy() - expected["auc"].to_numpy()).max() < 1e-9
    _assert_same_findings(records, case["leaks"])


def test_funnel_steps_are_recognised_by_category_and_by_name_before_a_detail(spark, case):
    from eventlift.spark.prepare import SparkSessions
    from eventlift.spark.trust import probe_leaks

    config = case["config"].replace(
        sessions={"use_event_detail": True, "funnel_events": ["cart"], "funnel_categories": ["f"]}
    )
    leaky = (["view", "cart - big", "cartography - x", "pay"], ["b", "b", "b", "f"])
    rows = [
        (f"s{i}", i < 20, "train", *(leaky if i < 20 else (["view"], ["b"]))) for i in range(40)
    ]
    frame = spark.createDataFrame(
        pd.DataFrame(rows, columns=["session_id", "converted", "split", "events", "categories"])
    )
    split_counts = {"train": {"sessions": 40, "converted": 20}}
    table, records, _ = probe_leaks(
        SparkSessions(frame, {}, split_counts=split_counts), config, MODE
    )
    kept = {r["event"] for r in records if "configured funnel event" in r["fix"]}
    assert set(table.loc[table["funnel"], "event"]) == {"cart - big", "pay"}
    assert {r["event"] for r in records} == {"cart - big", "cartography - x", "pay"}
    assert kept == {"cart - big", "pay"}


def test_run_summary_names_the_local_leaks(result, case):
    findings = result.summary["leakage"]
    assert {finding["event"] for finding in findings} == set(FUNNEL_EVENTS)
    _assert_same_findings(findings, case["leaks"])
    assert result.summary["session_end"] == case["session_end"]
    aucs = case["aucs"].set_index("event")["auc"]
    for finding in findings:
        assert abs(finding["auc"] - aucs[finding["event"]]) < 1e-9
        assert "configured funnel event" in finding["fix"]


def test_run_summary_holds_baselines_and_faithfulness(result):
    summary = result.summary
    assert set(summary["baselines"]) == {"logistic", "lightgbm"}
    for scores in summary["baselines"].values():
        assert 0.5 < scores["test_auc"] <= 1.0
        assert scores["fitted_on"].startswith("a seeded")
    report = summary["faithfulness"]
    fields = set(FaithfulnessReport.__dataclass_fields__) | {"fractions"}
    assert set(report) == fields
    assert 0 < report["n_sessions"] <= 30
    assert "completeness_gap" in summary
    verdict = summary["baseline_verdict"]
    assert summary["baselines"][verdict["baseline"]]["chosen"]
    assert verdict["auc_b"] == pytest.approx(summary["baselines"][verdict["baseline"]]["test_auc"])
    assert verdict["ci_low"] < verdict["difference"] < verdict["ci_high"]
    by_split = summary["counts"]["sessions_by_split"]
    assert sum(split["sessions"] for split in by_split.values()) == summary["counts"]["sessions"]
    # the model sized by the local rule, from the (sampled) sessions it trained on
    assert 0 < summary["capacity"]["training_sessions"] <= by_split["train"]["sessions"]
    assert summary["config"]["model"]["members"] == summary["capacity"]["members"]


def test_run_summary_warns_and_leaves_out_as_the_local_run(spark, result, case):
    from eventlift.analysis.caveats import drop_unsupported_tables

    summary = result.summary
    assert summary["attribution"]["funnel_events"] == sorted(FUNNEL_EVENTS)
    codes = [warning["code"] for warning in summary["warnings"]]
    assert "few_conversions" in codes and "no_funnel_events" not in codes  # the steps are found
    not_better = summary["baseline_verdict"]["better_than_counting"] is False
    cut = summary["session_end"]["flagged"]  # as locally (test_run_summary_names_the_local_leaks)
    assert set(codes) == {"few_conversions"} | (
        {"not_better_than_counting"} if not_better else set()
    ) | ({"session_end_cut"} if cut else set())
    assert summary["skipped_outputs"] == {}
    no_store = case["config"].replace(columns={"store_id": None})
    empty = spark.createDataFrame(pd.DataFrame({"store_id": ["x"]})).limit(0)
    kept, skipped = drop_unsupported_tables(
        {"store": empty, "position": empty}, no_store, is_empty=lambda t: t.isEmpty()
    )
    assert list(kept) == ["position"] and "No [columns] store_id" in skipped["store_attribution"]


def test_report_is_built_from_the_spark_output_folder(result, case):
    root = Path(case["config"].output.dir)
    assert Path(result.locations["report"]) == root / "report.html"
    outputs = {path.name for path in (root / "outputs").iterdir()}
    for key in ("event_type", "position", "store", "event_position", "event_position_matrix",
                "event_type_removal"):  # fmt: skip
        assert f"{OUTPUT_NAMES[key][0]}_{MODE}.csv" in outputs, key
    assert not any(name.startswith("gradient_attribution") for name in outputs)

    page = build_report(root).read_text(encoding="utf-8")
    for section in ("leakage", "metrics", "faithfulness", "event_type"):
        assert f'id="{MODE}-{section}"' in page, section
    chosen = result.summary["baseline_verdict"]["baseline"]
    for name in ("logistic", "lightgbm"):
        shown = f"{name} (chosen on validation)" if name == chosen else name
        assert f"<td>{shown}</td>" in page, name
    for name in FUNNEL_EVENTS:
        assert f"<td>{name}</td>" in page, name


def _assert_same_findings(found: list[dict], expected: list[dict]) -> None:
    assert [f["event"] for f in found] == [f["event"] for f in expected]
    for a, b in zip(found, expected, strict=True):
        assert abs(a["auc"] - b["auc"]) < 1e-9
        assert {**a, "auc": None} == {**b, "auc": None}


def test_spark_calibrates_on_the_driver_as_the_local_run(result):
    calibration = result.summary["calibration"]
    counts = result.summary["counts"]["sessions_by_split"]
    # a small log: every validation and test session is collected, as locally
    assert calibration["validation_sessions"] == counts["validation"]["sessions"]
    assert calibration["test_sessions"] == counts["test"]["sessions"]
    assert calibration["requested"] == "auto" and "ece_after" in calibration
    probabilities = result.tables["event_level"].select("predicted_probability").toPandas()
    assert probabilities["predicted_probability"].between(0, 1).all()
