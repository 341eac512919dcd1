"""A synthetic marketplace event log whose causes of conversion are planted and known.

``eventlift demo`` needs no data from the user, and the tests need a log where the right answer is
known. Sessions walk a Markov chain over a dozen browsing events, store-bearing events
carry stores of Zipf-like popularity, and each browsing event adds a planted, position-damped amount
to the conversion log-odds, plus a store effect and an order-dependent bonus (a card click followed
within a few steps by the same store's page load). Every browsing event also costs a small,
undamped amount (long, aimless sessions convert less, as in real logs). The label is drawn from
the resulting probability. Funnel events (add item, cart, checkout) are then appended mostly, not
only, to converted sessions, so that a model which sees them leaks the label. Everything
vectorises over sessions with numpy, so a million sessions take seconds.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from eventlift.data.ground_truth import GroundTruth
from eventlift.data.synthetic_draws import Drawn, draw, kept_browse_events
from eventlift.data.synthetic_world import (
    BROWSE,
    CATEGORIES,
    CONVERSION_EVENT,
    FUNNEL_EVENTS,
    NAMES,
    VARIANTS,
    SyntheticSpec,
    store_labels,
)
from eventlift.exceptions import ConfigError

__all__ = [
    "CONVERSION_EVENT",
    "FUNNEL_EVENTS",
    "VARIANTS",
    "GroundTruth",
    "SyntheticSpec",
    "generate_events",
]

logger = logging.getLogger(__name__)


def generate_events(
    spec: SyntheticSpec | None = None, **overrides: object
) -> tuple[pd.DataFrame, GroundTruth]:
    """Generate the synthetic event log and the truth planted in it.

    Parameters
    ----------
    spec
        The knobs; :class:`SyntheticSpec` defaults when omitted.
    **overrides
        Fields of :class:`SyntheticSpec` to change, e.g. ``n_sessions=5000, seed=3``.

    Returns
    -------
    events : pandas.DataFrame
        One row per event, sorted by user then time: ``session_id, user_id, timestamp`` (naive UTC),
        ``event, event_category, store_id, store_name`` (no store columns when ``with_stores`` is
        False). Card views and clicks, search result
        clicks and store page loads carry a store; funnel and order events carry the store the
        session ended on; other events have a null store. Funnel steps come after a session's
        browsing events, and events after the order are included, as in a real export.
    truth : GroundTruth
        Planted effects, true session probabilities and every browsing event's true contribution.

    The same spec always gives identical frames.
    """
    spec = spec or SyntheticSpec()
    allowed = {f.name for f in dataclasses.fields(SyntheticSpec)}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ConfigError(
            f"generate_events got unknown option(s) {unknown}; allowed: {sorted(allowed)}."
        )
    spec = dataclasses.replace(spec, **overrides)
    drawn = draw(spec, np.random.default_rng(spec.seed))
    labels = _Labels.of(spec, drawn.user_of)
    events = _event_frame(spec, drawn, labels)
    truth = _ground_truth(spec, drawn, labels)
    logger.info(
        "generated %d events in %d sessions of %d users; conversion rate %.3f",
        len(events), spec.n_sessions, len(labels.user_ids), drawn.converted.mean(),
    )  # fmt: skip
    return events, truth


@dataclass(frozen=True)
class _Labels:
    """The text of the codes: session, user and store ids, store names, event names."""

    session_ids: pa.Array
    user_ids: pa.Array
    store_ids: list[str]
    store_names: list[str]

    @classmethod
    def of(cls, spec: SyntheticSpec, user_of: np.ndarray) -> _Labels:
        n, n_users = spec.n_sessions, int(user_of[-1]) + 1
        store_ids, names = store_labels(spec.n_stores) if spec.with_stores else ([], [])
        return cls(
            pa.array([f"s{i:0{max(6, len(str(n - 1)))}d}" for i in range(n)]),
            pa.array([f"u{i:0{max(5, len(str(n_users - 1)))}d}" for i in range(n_users)]),
            store_ids,
            names,
        )


def _event_frame(spec: SyntheticSpec, drawn: Drawn, labels: _Labels) -> pd.DataFrame:
    """One row per event, as a user's export would hold it."""
    events = pd.DataFrame(
        {
            "session_id": _take(labels.session_ids, drawn.session_of),
            "user_id": _take(labels.user_ids, drawn.user_of[drawn.session_of]),
            "timestamp": drawn.timestamps,
            "event": _take(pa.array(NAMES), drawn.event_codes),
            "event_category": _take(pa.array(CATEGORIES), drawn.event_codes),
            "store_id": _take(pa.array(labels.store_ids), drawn.store_codes),
            "store_name": _take(pa.array(labels.store_names), drawn.store_codes),
        }
    )
    if not spec.with_stores:
        events = events.drop(columns=["store_id", "store_name"])
    return events


def _ground_truth(spec: SyntheticSpec, drawn: Drawn, labels: _Labels) -> GroundTruth:
    """What was planted: effects, the true probabilities and every event's true contribution."""
    kept = kept_browse_events(spec)
    possible = [name for c, name in enumerate(NAMES) if c >= len(BROWSE) or kept[c]]
    store_ids = labels.store_ids
    return GroundTruth(
        event_effects={
            name: float(drawn.effects[c]) if c < len(BROWSE) else 0.0
            for c, name in enumerate(NAMES)
            if name in possible
        },
        event_categories={n: c for n, c in zip(NAMES, CATEGORIES, strict=True) if n in possible},
        funnel_events=list(FUNNEL_EVENTS),
        conversion_event=CONVERSION_EVENT,
        position_effect={p: float(drawn.multiplier[p]) for p in range(1, spec.max_length + 1)},
        store_effects=dict(zip(store_ids, drawn.store_effect.tolist(), strict=False)),
        store_names=dict(zip(store_ids, labels.store_names, strict=True)),
        best_store=store_ids[drawn.best_store] if spec.with_stores else "",
        order_effect=spec.effect_scale * spec.order_effect,
        order_window=spec.order_window,
        event_cost=spec.effect_scale * spec.event_cost,
        sessions=pd.DataFrame(
            {
                "session_id": _take(labels.session_ids, np.arange(spec.n_sessions)),
                "user_id": _take(labels.user_ids, drawn.user_of),
                "probability": drawn.probability,
                "converted": drawn.converted,
            }
        ),
        contributions=pd.DataFrame(
            {
                "session_id": _take(labels.session_ids, drawn.rows),
                "position": drawn.position,
                "event": _take(pa.array(NAMES), drawn.event),
                "store_id": _take(pa.array(store_ids), drawn.store),
                "contribution": drawn.contribution,
            }
        ),
    )


def _take(values: pa.Array, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Strings by code (negative codes give nulls), built in Arrow without Python objects."""
    codes = np.asarray(codes)
    taken = values.take(pa.array(codes, mask=codes < 0))
    return pd.array(taken, dtype="str")
