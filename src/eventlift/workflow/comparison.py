"""How badly do funnel events lie? ``no_funnel`` and ``with_funnel`` side by side.

Funnel steps (add to cart, checkout) sit between browsing and the conversion: a model that sees
them predicts conversions almost perfectly and credits them with most of the attribution, which
says nothing about which browsing steps drive conversion. Both modes run on the same read of the
events with the same seed, so sessions, splits and training are the same apart from the funnel
events (and the sessions that held nothing else, which ``no_funnel`` drops). The comparison shows
what the funnel adds to the test AUC, the share of attribution it takes, how the browsing events'
ranks move, and a verdict in one sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from eventlift.config import Config
from eventlift.core.atomic import write_csv, write_json
from eventlift.data.funnel import FunnelRule
from eventlift.data.sessions import SessionData
from eventlift.exceptions import ConfigError

if TYPE_CHECKING:
    from eventlift.workflow.result import RunResult

__all__ = [
    "COMPARISON_FILE",
    "ModeComparison",
    "compare_modes",
    "funnel_shares",
    "write_comparison",
]

COMPARISON_FILE = "comparison.json"
# A test AUC gain from the funnel at least this large is inflation worth naming the events for:
# well above the standard error of a test AUC at 100 converted test sessions, about 0.03
# (:data:`~eventlift.analysis.caveats.MIN_CONVERTED_TEST_SESSIONS`).
INFLATED_AUC = 0.05


@dataclass
class ModeComparison:
    """The two modes side by side: one row per mode, the moved ranks and the verdict."""

    modes: pd.DataFrame  # mode, test_auc, logistic_auc, lightgbm_auc, funnel_share, leaks
    ranks: pd.DataFrame  # event, lift and rank (among all event types) in each mode
    funnel_events: list[str]
    funnel_share: float  # share of with_funnel attribution taken by funnel events
    funnel_share_converted: float  # the same within converted sessions
    rank_correlation: float  # Spearman of non-funnel lifts between the modes
    verdict: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``comparison.json`` payload: the verdict, one row per mode, ranks and facts."""
        return {
            "verdict": self.verdict,
            "rows": self.modes.to_dict("records"),
            "ranks": self.ranks.to_dict("records"),
            "funnel_events": self.funnel_events,
            "funnel_share_of_attribution": self.funnel_share,
            "funnel_share_of_attribution_converted": self.funnel_share_converted,
            "rank_correlation_non_funnel": self.rank_correlation,
            **self.facts,
        }


def compare_modes(results: dict[str, RunResult], config: Config) -> ModeComparison:
    """Compare a ``no_funnel`` and a ``with_funnel`` result of the same events and config.

    Raises
    ------
    ConfigError
        One of the two modes is missing from ``results``.
    """
    missing = [mode for mode in ("no_funnel", "with_funnel") if mode not in results]
    if missing:
        raise ConfigError(
            f"the comparison needs both modes; {missing} did not run. Run with "
            "`--mode both` or set [output] modes = ['no_funnel', 'with_funnel']."
        )
    clean, leaky = results["no_funnel"], results["with_funnel"]
    shares = leaky.summary["attribution"]
    funnel = shares["funnel_events"]
    share, share_converted = shares["funnel_share"], shares["funnel_share_converted"]
    ranks = _ranks(clean.tables["event_type"], leaky.tables["event_type"], funnel)
    followed = ranks.dropna(subset=["lift_no_funnel", "lift_with_funnel"])
    correlation = (
        float(followed["lift_no_funnel"].corr(followed["lift_with_funnel"], method="spearman"))
        if len(followed) >= 3
        else float("nan")
    )
    modes = pd.DataFrame(
        [
            {
                "mode": mode,
                "test_auc": result.metrics["test_auc"],
                "logistic_auc": result.baselines["logistic"]["test_auc"],
                "lightgbm_auc": result.baselines["lightgbm"]["test_auc"],
                "funnel_share": share if mode == "with_funnel" else 0.0,
                "funnel_share_converted": share_converted if mode == "with_funnel" else 0.0,
                "likely_leaks": ", ".join(finding["event"] for finding in result.leakage),
            }
            for mode, result in (("no_funnel", clean), ("with_funnel", leaky))
        ]
    )
    responsible = _responsible(leaky.leakage, leaky.tables["event_type"], funnel)
    verdict = _verdict(modes, share, share_converted, ranks, responsible)
    return ModeComparison(
        modes=modes,
        ranks=ranks,
        funnel_events=funnel,
        funnel_share=share,
        funnel_share_converted=share_converted,
        rank_correlation=correlation,
        verdict=verdict,
        facts={
            "auc_gain": float(modes["test_auc"].iloc[1] - modes["test_auc"].iloc[0]),
            "responsible_events": responsible,
        },
    )


def write_comparison(comparison: ModeComparison, out_dir: str | Path) -> dict[str, Path]:
    """Write ``comparison.json`` (read by the report) and ``outputs/mode_comparison.csv``."""
    root = Path(out_dir)
    return {
        "comparison": write_json(comparison.to_dict(), root / COMPARISON_FILE),
        "mode_comparison": write_csv(comparison.ranks, root / "outputs" / "mode_comparison.csv"),
    }


def funnel_shares(event_level: pd.DataFrame, data: SessionData, config: Config) -> dict[str, Any]:
    """Share of the normalised attribution held by funnel events in ``event_level`` (the
    attributed sessions): in all of them, and in the converted ones (where the funnel steps sit,
    and what a verdict is read for). Recorded, with the funnel events of the run, in every run
    summary under ``attribution``."""
    funnel = FunnelRule.from_config(config.sessions).events_found(data.events)
    taken_by_funnel = event_level["event"].isin(funnel).to_numpy()
    attribution = event_level["attribution"].to_numpy()
    converted = event_level["converted"].to_numpy(dtype=bool)

    def share(chosen: np.ndarray) -> float:
        total = float(attribution[chosen].sum())
        return float(attribution[chosen & taken_by_funnel].sum()) / total if total > 0 else math.nan

    everywhere = np.ones(len(event_level), dtype=bool)
    return {
        "funnel_events": funnel,
        "funnel_share": share(everywhere),
        "funnel_share_converted": share(converted),
    }


def _ranks(clean: pd.DataFrame, leaky: pd.DataFrame, funnel: list[str]) -> pd.DataFrame:
    """Each non-funnel event's lift and rank (1 = largest lift among all types) in both modes."""

    def ranked(table: pd.DataFrame) -> pd.DataFrame:
        out = table[["event", "lift"]].copy()
        out["rank"] = out["lift"].rank(ascending=False, method="min")
        return out.set_index("event")

    both = (
        ranked(clean)
        .add_suffix("_no_funnel")
        .join(ranked(leaky).add_suffix("_with_funnel"), how="outer")
    )
    both = both[~both.index.isin(funnel)].sort_values(
        ["rank_no_funnel", "rank_with_funnel"], na_position="last"
    )
    for column in ("rank_no_funnel", "rank_with_funnel"):
        both[column] = both[column].astype("Int64")
    return both.rename_axis("event").reset_index()[
        ["event", "lift_no_funnel", "rank_no_funnel", "lift_with_funnel", "rank_with_funnel"]
    ]


def _responsible(leaks: list[dict], event_type: pd.DataFrame, funnel: list[str]) -> list[str]:
    """The events behind the with_funnel inflation: those the leak rules name in that run, or,
    when they name none, its funnel events by lift (at most three, from its event-type table)."""
    named = [finding["event"] for finding in leaks]
    if named:
        return named
    steps = event_type[event_type["event"].isin(funnel)].dropna(subset=["lift"])
    return steps.sort_values("lift", ascending=False)["event"].head(3).tolist()


def _verdict(
    modes: pd.DataFrame,
    share: float,
    share_converted: float,
    ranks: pd.DataFrame,
    responsible: list[str],
) -> str:
    """One sentence an analyst can paste: AUC inflation, attribution taken, the events behind a
    large inflation, where the top browsing event of ``no_funnel`` lands once the funnel is in."""
    clean_auc, leaky_auc = modes["test_auc"].to_numpy(dtype=float)
    sentence = (
        f"Funnel events {'inflate' if leaky_auc > clean_auc else 'change'} test AUC from "
        f"{clean_auc:.2f} to {leaky_auc:.2f} and take {100 * share_converted:.0f} % of the "
        f"attribution in converted sessions ({100 * share:.0f} % overall)"
    )
    if leaky_auc - clean_auc >= INFLATED_AUC and responsible:
        sentence += f"; the inflation comes from {', '.join(responsible)}"
    top = ranks.dropna(subset=["rank_no_funnel", "rank_with_funnel"]).head(1)
    if len(top):
        event, before, after = top.iloc[0][["event", "rank_no_funnel", "rank_with_funnel"]]
        if after > before:
            moves = f"falls from rank {before} to rank {after}"
        elif after == before:
            moves = f"stays at rank {before}"
        else:
            moves = f"rises from rank {before} to rank {after}"
        sentence += f"; {event} {moves}"
    return sentence + "."
