"""Score every attribution method against the causes planted in a synthetic log.

Only generated data knows the true effect of each event type, store and event, so only there can
the methods be compared on *recovery*: does the event-type lift rank the planted effects, are the
stores with the largest planted effects among those with the largest lift, does each session's
signed score follow the true contributions of its events, and do the mean signed scores point the
planted way. Each method also gets its faithfulness (deletion AOPC against random orders) and
speed, and the classic multi-touch rules are scored on the same sessions for comparison.

:func:`evaluate_methods` works on a trained model; :func:`evaluate_folder` rebuilds one from the
output folder of ``eventlift demo`` (``eventlift evaluate DIR``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventlift.analysis.multitouch import CREDIT_COLUMNS, multitouch_credit
from eventlift.analysis.recovery import (
    contribution_correlation,
    event_spearman,
    recovery_scores,
)
from eventlift.analysis.scoring import score_sessions, tabulate_scores
from eventlift.attribution import (
    METHODS,
    faithfulness,
)
from eventlift.config import Config
from eventlift.core.progress import NO_PROGRESS, Progress
from eventlift.data.encode import EncodedSessions
from eventlift.data.sessions import SessionData
from eventlift.exceptions import DataError, EventliftError

if TYPE_CHECKING:
    from eventlift.data.ground_truth import GroundTruth
    from eventlift.model.transformer import EventTransformer

__all__ = ["DEFAULT_SAMPLE", "METHOD_RECOVERY_COLUMNS", "evaluate_folder", "evaluate_methods"]

# Test sessions every method is scored on: integrated gradients and occlusion cost 20-50 times
# gradient × input, and the same sessions for all methods keep the comparison fair.
DEFAULT_SAMPLE = 2000
METHOD_RECOVERY_COLUMNS = (
    "method", "kind", "sessions", "event_spearman", "best_store_rank", "supported_stores",
    "store_top5_overlap", "contribution_r", "signs_agree", "signs_checked", "aopc_deletion",
    "random_aopc_deletion", "aopc_ratio", "faithfulness_flagged", "completeness_gap_pct",
    "sessions_per_second",
)  # fmt: skip


def evaluate_methods(
    model: EventTransformer,
    data: SessionData,
    split: pd.Series,
    encoded: EncodedSessions,
    truth: GroundTruth,
    config: Config,
    *,
    methods: list[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
    progress: Progress = NO_PROGRESS,
) -> pd.DataFrame:
    """One row per attribution method, then one per multi-touch rule, on the same test sessions.

    Parameters
    ----------
    model, data, split, encoded
        A trained ``no_funnel`` model on the synthetic log, its sessions, their split (aligned
        with ``data.sessions``) and their encoding.
    truth
        The planted truth of the same log.
    config
        The run's config: attribution batch size, position buckets, support, bootstrap, seed.
    methods
        Method names (default: all of :data:`eventlift.attribution.METHODS`).
    sample
        Number of test sessions, drawn with the run's seed; 0 or more than the test split takes
        every test session.

    Returns
    -------
    pandas.DataFrame
        :data:`METHOD_RECOVERY_COLUMNS`. Multi-touch rows (``kind = "multitouch"``) only have the
        event-type Spearman, as the rules give no per-event score or store credit.
    """
    methods = list(methods or METHODS)
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        raise EventliftError(
            f"unknown attribution method(s) {unknown}; available: {', '.join(METHODS)}."
        )
    rows = encoded.indices("test")
    if 0 < sample < len(rows):
        rng = np.random.default_rng(config.train.seed)
        rows = np.sort(rng.choice(rows, size=sample, replace=False))
    ids = data.sessions["session_id"].to_numpy()[rows]
    records = []
    for name in methods:
        progress.note(f"evaluating {name} on {len(rows):,} test sessions")
        records.append(_method_record(name, model, data, split, encoded, rows, truth, config))
    records += _multitouch_records(data, ids, truth)
    return pd.DataFrame.from_records(records, columns=list(METHOD_RECOVERY_COLUMNS))


def _method_record(
    name: str,
    model: EventTransformer,
    data: SessionData,
    split: pd.Series,
    encoded: EncodedSessions,
    rows: np.ndarray,
    truth: GroundTruth,
    config: Config,
) -> dict[str, Any]:
    """Attribute ``rows`` with one method and score the result against the truth."""
    settings = config.attribution
    started = time.perf_counter()
    scores = score_sessions(model, encoded, settings, rows=rows, method=name)
    seconds = time.perf_counter() - started
    frame, tables = tabulate_scores(
        data, split, scores, settings, seed=config.train.seed, rows=np.sort(rows)
    )
    recovery = recovery_scores(tables, truth)
    faith = faithfulness(
        model,
        encoded,
        scores.raw,
        rows[: settings.faithfulness_sessions or len(rows)],
        seed=config.train.seed,
        method=name,
    )
    gap = scores.completeness_gap
    return {
        "method": name,
        "kind": "transformer",
        "sessions": len(rows),
        "event_spearman": recovery["event_spearman"],
        "best_store_rank": recovery["best_store_rank"],
        "supported_stores": recovery["supported_stores"],
        "store_top5_overlap": recovery["store_top5_overlap"],
        "contribution_r": contribution_correlation(frame, truth),
        "signs_agree": recovery["signs_agree"],
        "signs_checked": recovery["signs_checked"],
        "aopc_deletion": faith.aopc_deletion,
        "random_aopc_deletion": faith.random_aopc_deletion,
        "aopc_ratio": faith.ratio_vs_random,
        "faithfulness_flagged": faith.flagged,
        "completeness_gap_pct": math.nan if gap is None else 100 * gap,
        "sessions_per_second": len(rows) / seconds if seconds > 0 else math.nan,
    }


def _multitouch_records(
    data: SessionData, ids: np.ndarray, truth: GroundTruth
) -> list[dict[str, Any]]:
    """Spearman of each multi-touch rule's credit with the planted effects, same sessions."""
    sessions = data.sessions[data.sessions["session_id"].isin(ids)]
    events = data.events[data.events["session_id"].isin(ids)]
    credit = multitouch_credit(events, sessions[["session_id", "converted"]]).set_index("event")
    return [
        {
            "method": column,
            "kind": "multitouch",
            "sessions": len(sessions),
            "event_spearman": event_spearman(credit[column], truth),
        }
        for column in CREDIT_COLUMNS
    ]


def evaluate_folder(
    out_dir: str | Path,
    *,
    methods: list[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
    progress: Progress = NO_PROGRESS,
) -> pd.DataFrame:
    """:func:`evaluate_methods` on the ``no_funnel`` model of an ``eventlift demo`` folder.

    Regenerates the synthetic log from the seed and size recorded in ``demo_summary.json``
    (checking that it matches the stored events), rebuilds the sessions with the run's config,
    loads the checkpoint and checks its vocabularies against the rebuilt ones.
    """
    from eventlift.data.prepare import prepare_sessions
    from eventlift.data.readers import read_events
    from eventlift.data.synthetic import generate_events
    from eventlift.model.checkpoint import load_checkpoint

    root = Path(out_dir)
    summary = _read_json(root / "outputs" / "run_summary_no_funnel.json")
    demo = _read_json(root / "demo_summary.json")
    config = Config.from_dict(summary["config"], source=str(root / "outputs"))
    events, truth = generate_events(seed=demo["seed"], n_sessions=demo["n_sessions"])
    stored = root / "data" / "synthetic_events.parquet"
    frame = read_events(stored, config)
    if len(frame) != len(events):
        raise DataError(
            f"{stored} holds {len(frame):,} events, but the log generated with seed "
            f"{demo['seed']} and {demo['n_sessions']:,} sessions has {len(events):,}: the folder "
            "does not match its demo_summary.json. Run `eventlift demo` into it again."
        )
    data, split, encoded = prepare_sessions(frame, config, "no_funnel", source=str(stored))
    checkpoint = load_checkpoint(root / "outputs" / "best_transformer_no_funnel")
    for name, vocabulary in encoded.vocabularies.items():
        if checkpoint.vocabularies[name].tokens != vocabulary.tokens:
            raise DataError(
                f"{root}: the checkpoint's {name} vocabulary differs from the one rebuilt from "
                f"{stored}; the model was trained on other data. Run `eventlift demo` again."
            )
    return evaluate_methods(
        checkpoint.model,
        data,
        split,
        encoded,
        truth,
        config,
        methods=methods,
        sample=sample,
        progress=progress,
    )


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file of the output folder, or an error saying which file and how to get it."""
    if not path.is_file():
        raise EventliftError(
            f"{path} is missing; `eventlift evaluate` reads the folder written by "
            "`eventlift demo` (it needs the planted truth of the synthetic log)."
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        message = f"{path} is not valid JSON ({error}); run `eventlift demo` again."
        raise DataError(message) from None
