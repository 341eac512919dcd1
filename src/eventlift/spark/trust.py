"""The local run's trust checks on Spark: leakage probe, baselines and faithfulness.

Each check reuses the local code on what the driver can hold:

- **Leakage**: the presence AUC of an event depends only on how many training
  sessions hold it and how many of those converted, so one Spark aggregation counts them and
  :func:`~eventlift.analysis.leakage.presence_aucs` scores them. The late and gain rules
  (:mod:`eventlift.analysis.leak_rules`) read event sequences, so the driver collects at most
  ``SAMPLE_PER_CLASS`` training sessions of each outcome (all of them on logs that small, as
  locally) and :func:`~eventlift.analysis.leak_rules.name_leaks` names the leaks. The
  session-end probe needs only sessions per length and per last event by outcome: two more
  aggregations.
- **Baselines**: :func:`~eventlift.analysis.baselines.fit_baselines` needs every
  feature row in memory, so it runs on the driver on a seeded sample: the share of training and
  validation sessions the model is trained on (``[spark] sample_sessions``; all when 0), applied
  to every split. Its training part is exactly the model's training sample; each baseline's
  ``fitted_on`` says how many sessions it saw.
- **Faithfulness**: deletion curves cost dozens of forward passes per session, and the
  local path already limits them to ``[attribution] faithfulness_sessions`` sessions; here about
  that many sessions of the attribution split are drawn by the same seeded hash, collected, scored
  again on the driver with the same attributor (the executors' scores agree to float rounding) and
  passed to :func:`~eventlift.analysis.trust.faithfulness_scorecard`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eventlift.analysis.baselines import fit_baselines
from eventlift.analysis.leak_rules import SAMPLE_PER_CLASS, ProbeSample, name_leaks
from eventlift.analysis.leakage import presence_aucs, summary_records
from eventlift.analysis.session_end import session_end_probe
from eventlift.analysis.trust import faithfulness_scorecard
from eventlift.config import Config
from eventlift.data.funnel import FunnelRule
from eventlift.data.schema import SPLITS
from eventlift.model.transformer import EventTransformer
from eventlift.spark.prepare import SparkSessions
from eventlift.spark.settings import SparkSettings
from eventlift.spark.train import collect_encoded, hash_sample, sample_share, session_order

__all__ = ["fit_baselines_spark", "probe_leaks", "score_faithfulness"]


def probe_leaks(
    prepared: SparkSessions, config: Config, mode: str
) -> tuple[pd.DataFrame, list[dict], dict]:
    """The leak rules and the session-end probe on the training split, as the local run has them.

    Returns the table of :func:`~eventlift.analysis.leakage.single_event_aucs` over the training
    sessions, with a ``funnel`` column marking the configured funnel steps the sessions kept
    (``with_funnel`` mode; all False otherwise), the findings as run-summary records, and the
    ``session_end`` entry measured without the events found.
    """
    counts = _presence_counts(prepared.sessions, config, mode)
    train = prepared.split_counts[SPLITS[0]]
    n_positive, n_negative = train["converted"], train["sessions"] - train["converted"]
    table = presence_aucs(counts, n_positive, n_negative)
    sample = _probe_sample(prepared, config)
    findings = name_leaks(table, n_positive, n_negative, sample, config.train.seed)
    kept_funnel = set(counts.loc[counts["funnel"], "event"])
    table["funnel"] = table["event"].isin(kept_funnel).to_numpy()
    named = {finding.event for finding in findings}
    session_end = session_end_probe(*_session_end_counts(prepared.sessions, named), named)
    return table, summary_records(findings, kept_funnel), session_end


def _probe_sample(prepared: SparkSessions, config: Config) -> ProbeSample:
    """About ``SAMPLE_PER_CLASS`` training sessions of each outcome, collected in local order.

    Each outcome keeps the share of its sessions that leaves about that many, chosen by the
    seeded hash of the id; below that size every training session is kept, as locally.
    """
    from pyspark.sql import functions as F

    train = prepared.split_counts[SPLITS[0]]
    shares = {
        True: min(1.0, SAMPLE_PER_CLASS / max(train["converted"], 1)),
        False: min(1.0, SAMPLE_PER_CLASS / max(train["sessions"] - train["converted"], 1)),
    }
    chosen = prepared.sessions.filter(F.col("split") == SPLITS[0])
    if min(shares.values()) < 1.0:
        unit = (F.abs(F.xxhash64("session_id", F.lit(config.train.seed))) % 1_000_000) / 1_000_000
        share = F.when(F.col("converted"), shares[True]).otherwise(shares[False])
        chosen = chosen.filter(unit < share)
    order = session_order(prepared.config or config)
    frame = chosen.select("session_id", "converted", "events").orderBy(*order).toPandas()
    sequences = [np.asarray(events, dtype=object) for events in frame["events"]]
    return ProbeSample(sequences, frame["converted"].to_numpy(dtype=bool))


def _session_end_counts(sessions: Any, excluded: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training sessions per length and per last event by outcome, without ``excluded`` events,
    as :func:`~eventlift.analysis.session_end.session_end_counts` counts them."""
    from pyspark.sql import functions as F

    kept = F.col("events")
    if excluded:
        aside = F.array(*[F.lit(event) for event in sorted(excluded)])
        kept = F.filter(kept, lambda name: ~F.array_contains(aside, name))
    train = sessions.filter(F.col("split") == SPLITS[0]).select(
        F.col("converted"),
        F.size(kept).alias("length"),
        F.when(F.size(kept) > 0, F.element_at(kept, -1)).otherwise(F.lit("")).alias("last"),
    )

    def by_outcome(column: str) -> pd.DataFrame:
        grouped = train.groupBy(column).agg(
            F.sum(F.col("converted").cast("long")).alias("n_converted"),
            F.sum((~F.col("converted")).cast("long")).alias("n_other"),
        )
        frame = grouped.orderBy(column).toPandas().rename(columns={column: "value"})
        return frame.astype({"n_converted": np.int64, "n_other": np.int64})

    return by_outcome("length"), by_outcome("last")


def _presence_counts(sessions: Any, config: Config, mode: str) -> pd.DataFrame:
    """Per event of the training split: sessions holding it, converted ones, configured funnel.

    One aggregation: each session contributes each distinct event once (``held``) and, in
    ``with_funnel`` mode, a marker for every event that the config names a funnel step.
    """
    from pyspark.sql import functions as F

    def item(name: Any, held: int, funnel: bool) -> Any:
        return F.struct(
            name.alias("event"), F.lit(held).alias("held"), F.lit(funnel).alias("funnel")
        )

    items = F.transform(F.array_distinct("events"), lambda name: item(name, 1, False))
    if mode == "with_funnel":
        pairs = F.arrays_zip("events", "categories")
        rule, detail = FunnelRule.from_config(config.sessions), config.sessions.use_event_detail
        steps = F.filter(
            pairs, lambda x: rule.spark_condition(x["events"], x["categories"], tokens=detail)
        )
        items = F.concat(items, F.transform(steps, lambda x: item(x["events"], 0, True)))
    train = sessions.filter(F.col("split") == SPLITS[0])
    rows = train.select(
        F.col("converted").cast("long").alias("converted"), F.explode(items).alias("item")
    ).select("converted", "item.*")
    counts = rows.groupBy("event").agg(
        F.sum("held").alias("n_sessions"),
        F.sum(F.col("held") * F.col("converted")).alias("n_converted"),
        F.max("funnel").alias("funnel"),
    )
    return counts.toPandas()


def fit_baselines_spark(
    prepared: SparkSessions, config: Config, settings: SparkSettings
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """The logistic and LightGBM baselines on the driver's training sample, scored on test.

    The sample keeps the share of training and validation sessions the model is trained on and
    applies it to the test split too, so the test AUC is an estimate on that share of the
    test sessions. Each baseline's scores gain ``fitted_on``, saying how many sessions it saw.
    Also returns the sampled test sessions (``session_id``, ``converted``) with each baseline's
    score in a column of its name, for the paired verdict.
    """
    share = sample_share(prepared, SPLITS[:2], settings.sample_sessions)
    columns = ("session_id", "converted", "split", "events", "categories", "stores")
    frame = hash_sample(prepared.sessions, SPLITS, share, config.train.seed, columns)
    frame = frame.orderBy(*session_order(prepared.config or config)).toPandas()  # local order
    arrays = {"events": "event", "categories": "event_category", "stores": "store_id"}
    events = frame[["session_id", *arrays]].explode(list(arrays), ignore_index=True)
    events = events.rename(columns=arrays)
    events["position"] = events.groupby("session_id", sort=False).cumcount() + 1
    sessions = frame[["session_id", "converted", "split"]]
    scores = fit_baselines(
        events,
        sessions,
        seed=config.train.seed,
        min_count=config.train.min_count,
        keep_scores=True,
    )
    test = sessions.loc[sessions["split"] == "test", ["session_id", "converted"]]
    test = test.assign(**{name: entry.pop("test_scores") for name, entry in scores.items()})
    sizes = frame["split"].value_counts()
    seen = ", ".join(f"{int(sizes.get(split, 0)):,} {split}" for split in SPLITS)
    which = "every session" if share >= 1.0 else f"a seeded {share:.2%} sample of sessions"
    fitted_on = f"{which} ({seen}); train and validation are the model's training sample"
    return {name: {**values, "fitted_on": fitted_on} for name, values in scores.items()}, test


def score_faithfulness(
    prepared: SparkSessions, model: EventTransformer, config: Config
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Faithfulness of the attribution on about ``faithfulness_sessions`` sessions.

    Returns the summary entries (``faithfulness`` and ``completeness_gap``, the latter over the
    sample) and the event-type removal table; ``({}, None)`` when the check is turned off.
    """
    from eventlift.analysis.scoring import score_sessions

    attribution = config.attribution
    if not attribution.faithfulness_sessions:
        return {}, None
    split = attribution.split
    splits = SPLITS if split == "all" else (split,)
    encoded = collect_encoded(
        prepared, config, splits=splits, limit=attribution.faithfulness_sessions
    )
    scores = score_sessions(model, encoded, attribution)
    report, removal = faithfulness_scorecard(model, encoded, scores, config)
    return {"faithfulness": report, "completeness_gap": scores.completeness_gap}, removal
