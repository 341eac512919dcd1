"""A synthetic marketplace event log whose causes of conversion are planted and known.

``eventlift demo`` needs no data from the user, and the tests need a log where the right answer is
known (DESIGN §10). Sessions walk a Markov chain over a dozen browsing events, store-bearing events
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

# Browsing events: name, category, planted log-odds effect (before `effect_scale`), carries a store.
_BROWSE = (
    ("home_page_load", "navigation", -0.02, False),
    ("tab_switch", "navigation", -0.4, False),
    ("m_banner_view", "impression", 0.05, False),
    ("m_banner_click", "click", 0.2, False),
    ("m_card_view", "impression", -0.35, True),
    ("m_card_click", "click", 0.35, True),
    ("search_submit", "search", -0.2, False),
    ("filter_apply", "search", 0.1, False),
    ("search_result_click", "click", 0.25, True),
    ("store_page_load", "navigation", 0.45, True),
    ("item_detail_view", "navigation", 0.55, False),
    ("app_background", "system", -0.7, False),
)
FUNNEL_EVENTS = ("action_add_item", "cart_page_load", "checkout_page_load")
CONVERSION_EVENT = "order_placed"

_NAMES = tuple(row[0] for row in _BROWSE) + FUNNEL_EVENTS + (CONVERSION_EVENT,)
_CATEGORIES = tuple(row[1] for row in _BROWSE) + ("funnel",) * 3 + ("conversion",)
_CODE = {name: code for code, name in enumerate(_NAMES)}
_ADD, _CART, _CHECKOUT, _ORDER = (_CODE[name] for name in (*FUNNEL_EVENTS, CONVERSION_EVENT))

# Markov chain over the browsing events: first-event weights, then next-event weights per event.
_START = {"home_page_load": 5, "m_card_view": 2, "search_submit": 1, "store_page_load": 1,
          "tab_switch": 1, "m_banner_view": 1}  # fmt: skip
_NEXT = {
    "home_page_load": {"m_card_view": 4, "m_banner_view": 2, "search_submit": 1.5,
                       "tab_switch": 1, "app_background": 0.5, "home_page_load": 0.3},
    "tab_switch": {"m_card_view": 3, "home_page_load": 1, "search_submit": 1, "tab_switch": 0.5,
                   "m_banner_view": 1, "app_background": 0.3},
    "m_banner_view": {"m_banner_click": 1, "m_card_view": 3, "m_banner_view": 0.5,
                      "home_page_load": 0.5, "tab_switch": 0.5, "search_submit": 0.5},
    "m_banner_click": {"store_page_load": 3, "m_card_view": 1, "home_page_load": 0.5},
    "m_card_view": {"m_card_view": 4, "m_card_click": 1.5, "tab_switch": 0.6, "search_submit": 0.5,
                    "home_page_load": 0.3, "app_background": 0.3, "m_banner_view": 0.4},
    "m_card_click": {"store_page_load": 5, "m_card_view": 1, "item_detail_view": 0.5,
                     "home_page_load": 0.3},
    "search_submit": {"search_result_click": 3, "filter_apply": 1.5, "search_submit": 1,
                      "home_page_load": 0.5, "app_background": 0.3},
    "filter_apply": {"search_result_click": 3, "filter_apply": 0.8, "search_submit": 0.5,
                     "home_page_load": 0.3},
    "search_result_click": {"store_page_load": 4, "search_submit": 1, "item_detail_view": 1},
    "store_page_load": {"item_detail_view": 3, "m_card_view": 1, "home_page_load": 1,
                        "search_submit": 0.5, "app_background": 0.3, "tab_switch": 0.3,
                        "store_page_load": 0.2},
    "item_detail_view": {"item_detail_view": 1.5, "store_page_load": 1, "home_page_load": 1,
                         "m_card_view": 1, "app_background": 0.3},
    "app_background": {"home_page_load": 2, "m_card_view": 1, "store_page_load": 0.5,
                       "app_background": 0.3},
}  # fmt: skip
# What users do after ordering (the pipeline must drop these).
_POST = {"home_page_load": 3, "m_card_view": 3, "app_background": 2, "tab_switch": 1}

_STORE_PREFIXES = (
    "Golden", "Happy", "Little", "Blue", "Red", "Green", "Urban", "Corner", "Royal", "Sunny",
    "Old Town", "Mama's", "Lucky", "Fresh", "Spicy", "Silver", "Harbor", "Maple", "Cozy", "Wild",
)  # fmt: skip
_STORE_NOUNS = (
    "Dragon", "Pizza", "Burger", "Taco", "Sushi", "Noodle", "Curry", "Bakery", "Deli", "Grill",
    "Kebab", "Pho", "Bistro", "Diner", "Ramen", "Wok", "Falafel", "Bagel", "Creamery", "Market",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticSpec:
    """Every knob of the synthetic log; the defaults give the demo data set of DESIGN §10.

    At the defaults (20,000 sessions, seeds 0-2) 13-16 % of sessions convert and the true
    probabilities reach a ROC AUC of 0.72-0.74. Effects are on the conversion log-odds; positions
    are 1-based among the browsing (non-funnel) events. ``browse_events`` restricts the chain (and
    the events after an order) to some browsing events; ``with_stores=False`` gives a log without
    store columns in which stores plant nothing (no store effects, no order bonus, which needs a
    store match; the truth's store dictionaries are empty and ``best_store`` is ``""``). Both
    leave the random draws of the defaults untouched, so default logs stay identical.
    """

    n_sessions: int = 30_000  # sessions in the log
    seed: int = 0  # one generator, seeded here, draws everything
    # users and time
    sessions_per_user: float = 3.0  # mean sessions per user (1 + Poisson)
    start: str = "2026-10-01"  # first day of the log, naive UTC
    span_days: float = 14.0  # users' first sessions start within this many days
    gap_median_seconds: float = 20.0  # median gap between events of a session (lognormal)
    gap_sigma: float = 1.0  # lognormal sigma of those gaps
    max_gap_seconds: float = 1200.0  # gaps are clipped here, well under a 30-min inactivity rule
    min_session_separation_hours: float = 2.5  # a user's consecutive sessions are further apart
    mean_extra_separation_hours: float = 36.0  # plus an exponential extra of this mean
    # session length: browsing events before any funnel step (lognormal, clipped)
    length_median: float = 18.0
    length_sigma: float = 0.55
    min_length: int = 3
    max_length: int = 60
    # stores
    n_stores: int = 300
    store_zipf_exponent: float = 1.0  # popularity of the k-th most popular store ~ k ** -exponent
    store_effect_sd: float = 0.05  # most stores: normal effects, clipped at two sd
    n_strong_stores: int = 8  # a handful of popular stores with large effects of either sign
    strong_store_effect: float = 0.6  # their magnitude is drawn between 0.6 and 1 times this
    best_store_effect: float = 2.5  # one popular store is clearly the best
    strong_store_max_rank: int = 40  # strong stores are this popular or more
    best_store_rank: int = 8  # popularity rank of the best store (1 = most popular)
    p_click_seen_card: float = 0.9  # a card click is on the card viewed last
    p_page_follows_click: float = 0.6  # a store page load is of the store clicked last
    # conversion
    base_logit: float = -1.4  # log-odds before any event
    effect_scale: float = 1.0  # multiplies every planted effect (events, stores, order)
    position_decay: float = 5.0  # the damping falls by 1/e every this many positions ...
    position_floor: float = 0.02  # ... towards this multiplier
    order_effect: float = 1.0  # card click then the same store's page load within the window
    event_cost: float = -0.02  # added by every browsing event, undamped: long sessions convert less
    order_window: int = 3  # steps after the click that still earn the bonus
    # funnel: converted sessions
    p_add_item: float = 0.95
    p_cart: float = 0.92
    p_checkout: float = 0.96
    mean_extra_items: float = 0.5  # more add-item events (Poisson, at most `max_extra_items`)
    max_extra_items: int = 2
    p_post_conversion: float = 0.4  # events after the order (1 to `max_post_conversion`)
    max_post_conversion: int = 3
    # funnel: abandoned steps in sessions that do not convert
    p_abandoned_add_item: float = 0.06
    p_abandoned_cart: float = 0.45  # given an added item
    p_abandoned_checkout: float = 0.35  # given a cart
    # vocabulary and columns
    browse_events: tuple[str, ...] = ()  # browsing events the chain may visit; () = all twelve
    with_stores: bool = True  # False: no store columns, and stores plant nothing

    def __post_init__(self) -> None:
        """Reject impossible values with a message that names the knob."""
        for name in ("n_sessions", "n_stores", "min_length", "order_window"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SyntheticSpec.{name} must be >= 1, got {getattr(self, name)}.")
        for name in ("max_extra_items", "max_post_conversion"):
            if getattr(self, name) < 0:
                raise ConfigError(f"SyntheticSpec.{name} must be >= 0, got {getattr(self, name)}.")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("p_") and not 0.0 <= value <= 1.0:
                raise ConfigError(
                    f"SyntheticSpec.{f.name} is a probability in [0, 1], got {value}."
                )
        if self.max_length < self.min_length:
            raise ConfigError(
                f"SyntheticSpec.max_length ({self.max_length}) must be >= min_length "
                f"({self.min_length})."
            )
        if self.sessions_per_user < 1:
            raise ConfigError(
                f"SyntheticSpec.sessions_per_user must be >= 1, got {self.sessions_per_user}."
            )
        if not 1.0 <= self.max_gap_seconds < 1800.0 or self.gap_median_seconds <= 0:
            raise ConfigError(
                "SyntheticSpec.max_gap_seconds must be in [1, 1800) and gap_median_seconds > 0, so "
                f"that sessions survive a 30-min inactivity rule; got {self.max_gap_seconds} and "
                f"{self.gap_median_seconds}."
            )
        if self.min_session_separation_hours <= 0.5:
            raise ConfigError(
                "SyntheticSpec.min_session_separation_hours must exceed 0.5 (the 30-min inactivity "
                f"rule), got {self.min_session_separation_hours}."
            )
        ranks = (self.n_strong_stores + 1, self.strong_store_max_rank, self.n_stores)
        if not ranks[0] <= ranks[1] <= ranks[2] or not 1 <= self.best_store_rank <= ranks[1]:
            raise ConfigError(
                "SyntheticSpec needs n_strong_stores + 1 <= strong_store_max_rank <= n_stores and "
                "1 <= best_store_rank <= strong_store_max_rank; got n_strong_stores="
                f"{self.n_strong_stores}, strong_store_max_rank={self.strong_store_max_rank}, "
                f"n_stores={self.n_stores}, best_store_rank={self.best_store_rank}."
            )
        _check_vocabulary(self.browse_events)
        try:
            pd.Timestamp(self.start)
        except ValueError as error:
            raise ConfigError(
                f"SyntheticSpec.start must be a date such as '2026-10-01', got {self.start!r}."
            ) from error


# Named shapes of real logs, as overrides of the defaults: ``generate_events(**VARIANTS[name])``.
VARIANTS: dict[str, dict[str, object]] = {
    # 81 % of sessions hold one or two browsing events (half of them one)
    "short_sessions": {
        "length_median": 1.5,
        "length_sigma": 0.6,
        "min_length": 1,
        "max_length": 12,
    },
    # three browsing event types (card view, card click, store page load) besides the funnel
    "few_event_types": {"browse_events": ("m_card_view", "m_card_click", "store_page_load")},
    # one browsing event type (card views): after funnel exclusion only stores and positions vary
    # (card views lower the odds, so the base log-odds rise to keep conversion near 15 %)
    "one_event_type": {"browse_events": ("m_card_view",), "base_logit": 0.15},
    # about 2 % of sessions convert
    "rare_conversions": {"base_logit": -3.8},
    # funnel steps in 88-90 % of converting sessions and 4-12 % of the others: a weaker leak
    "partial_funnel": {
        "p_add_item": 0.9,
        "p_cart": 0.88,
        "p_checkout": 0.9,
        "p_abandoned_add_item": 0.12,
        "p_abandoned_cart": 0.6,
        "p_abandoned_checkout": 0.55,
    },
    # stores matter more than event types (base log-odds lowered to keep conversion near 17 %)
    "strong_store_effects": {
        "base_logit": -1.8,
        "store_effect_sd": 0.3,
        "n_strong_stores": 16,
        "strong_store_effect": 1.5,
        "best_store_effect": 3.0,
    },
    # a card click then the same store's page load is worth three times the default bonus
    "strong_order_effects": {"base_logit": -1.7, "order_effect": 3.0, "p_page_follows_click": 0.8},
    # no store columns, nothing planted on stores
    "no_stores": {"with_stores": False},
}


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
    rng = np.random.default_rng(spec.seed)
    n = spec.n_sessions

    popularity_cdf, store_effect, best_store = _plant_stores(spec, rng)
    user_of = _assign_users(spec, rng)  # (N,)
    lengths = np.clip(
        np.rint(spec.length_median * np.exp(spec.length_sigma * rng.standard_normal(n))),
        spec.min_length,
        spec.max_length,
    ).astype(np.int64)  # (N,)
    states, stores = _walk(spec, lengths, popularity_cdf, rng)  # (N, max L) each, -1 = padding
    if not spec.with_stores:
        stores.fill(-1)

    rows, cols = np.nonzero(states >= 0)  # browsing events, row-major: session then position
    event, store, position = states[rows, cols].astype(np.int64), stores[rows, cols], cols + 1
    effects = spec.effect_scale * np.array([row[2] for row in _BROWSE])
    multiplier = _position_curve(spec)  # (max_length + 1,), index = position
    bonus = _order_bonus(rows, event, store, spec.order_window) & spec.with_stores  # (E_browse,)
    planted = effects[event] + np.where(store >= 0, store_effect[store], 0.0)  # (E_browse,)
    planted += bonus * (spec.effect_scale * spec.order_effect)
    contribution = planted * multiplier[position] + spec.effect_scale * spec.event_cost
    logit = spec.base_logit + np.bincount(rows, weights=contribution, minlength=n)  # (N,)
    probability = 1.0 / (1.0 + np.exp(-logit))
    converted = rng.random(n) < probability

    last_store = np.full(n, -1, dtype=np.int32)  # the store a session ended on, for funnel events
    bearing_rows, bearing_stores = rows[store >= 0], store[store >= 0]
    if bearing_rows.size:
        is_last = np.append(bearing_rows[1:] != bearing_rows[:-1], True)
        last_store[bearing_rows[is_last]] = bearing_stores[is_last]
    tail, tail_stores = _tail(spec, converted, last_store, popularity_cdf, rng)  # (N, T) each
    if not spec.with_stores:
        tail_stores.fill(-1)
    codes = np.concatenate([states, tail], axis=1)
    all_stores = np.concatenate([stores, tail_stores], axis=1)
    keep = codes >= 0
    session_of = np.nonzero(keep)[0]  # (E,) row-major keeps each session's order
    event_codes, store_codes = codes[keep], all_stores[keep]
    timestamps = _timestamps(spec, session_of, user_of, rng)

    session_ids = pa.array([f"s{i:0{max(6, len(str(n - 1)))}d}" for i in range(n)])
    n_users = int(user_of[-1]) + 1
    user_ids = pa.array([f"u{i:0{max(5, len(str(n_users - 1)))}d}" for i in range(n_users)])
    store_ids, names = _store_labels(spec.n_stores) if spec.with_stores else ([], [])
    events = pd.DataFrame(
        {
            "session_id": _take(session_ids, session_of),
            "user_id": _take(user_ids, user_of[session_of]),
            "timestamp": timestamps,
            "event": _take(pa.array(_NAMES), event_codes),
            "event_category": _take(pa.array(_CATEGORIES), event_codes),
            "store_id": _take(pa.array(store_ids), store_codes),
            "store_name": _take(pa.array(names), store_codes),
        }
    )
    if not spec.with_stores:
        events = events.drop(columns=["store_id", "store_name"])
    possible = [name for c, name in enumerate(_NAMES) if c >= len(_BROWSE) or _kept(spec)[c]]
    truth = GroundTruth(
        event_effects={
            name: float(effects[c]) if c < len(_BROWSE) else 0.0
            for c, name in enumerate(_NAMES)
            if name in possible
        },
        event_categories={n: c for n, c in zip(_NAMES, _CATEGORIES, strict=True) if n in possible},
        funnel_events=list(FUNNEL_EVENTS),
        conversion_event=CONVERSION_EVENT,
        position_effect={p: float(multiplier[p]) for p in range(1, spec.max_length + 1)},
        store_effects=dict(zip(store_ids, store_effect.tolist(), strict=False)),
        store_names=dict(zip(store_ids, names, strict=True)),
        best_store=store_ids[best_store] if spec.with_stores else "",
        order_effect=spec.effect_scale * spec.order_effect,
        order_window=spec.order_window,
        event_cost=spec.effect_scale * spec.event_cost,
        sessions=pd.DataFrame(
            {
                "session_id": _take(session_ids, np.arange(n)),
                "user_id": _take(user_ids, user_of),
                "probability": probability,
                "converted": converted,
            }
        ),
        contributions=pd.DataFrame(
            {
                "session_id": _take(session_ids, rows),
                "position": position,
                "event": _take(pa.array(_NAMES), event),
                "store_id": _take(pa.array(store_ids), store),
                "contribution": contribution,
            }
        ),
    )
    logger.info(
        "generated %d events in %d sessions of %d users; conversion rate %.3f",
        len(events), n, n_users, converted.mean(),
    )  # fmt: skip
    return events, truth


def _plant_stores(
    spec: SyntheticSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw store popularity and effects; return the popularity CDF, effects and the best store."""
    rank = rng.permutation(spec.n_stores)  # (S,) popularity rank of each store id, 0 = top
    popularity = (rank + 1.0) ** -spec.store_zipf_exponent
    popularity_cdf = np.cumsum(popularity) / popularity.sum()
    popularity_cdf[-1] = 1.0
    sd = spec.store_effect_sd
    effect = np.clip(sd * rng.standard_normal(spec.n_stores), -2 * sd, 2 * sd)
    popular = np.argsort(rank)[: spec.strong_store_max_rank]  # store ids, most popular first
    best = popular[spec.best_store_rank - 1]
    strong = rng.choice(np.delete(popular, spec.best_store_rank - 1), spec.n_strong_stores, False)
    signs = np.where(np.arange(strong.size) % 2 == 0, 1.0, -1.0)
    effect[strong] = signs * spec.strong_store_effect * rng.uniform(0.6, 1.0, strong.size)
    effect[best] = max(spec.best_store_effect, effect.max() + sd)
    return popularity_cdf, spec.effect_scale * effect, int(best)


def _assign_users(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Give each session a user (1 + Poisson sessions per user); sessions of a user are adjacent."""
    counts = 1 + rng.poisson(spec.sessions_per_user - 1.0, size=spec.n_sessions)  # (N,) enough
    return np.repeat(np.arange(spec.n_sessions), counts)[: spec.n_sessions]  # (N,)


def _walk(
    spec: SyntheticSpec, lengths: np.ndarray, popularity_cdf: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Walk the Markov chain for every session at once and attach stores to store-bearing events.

    A card click is mostly on the card viewed last, and a store page load often opens the store
    clicked last; other stores are drawn by popularity. Sessions are simulated longest first, so
    that step ``t`` only touches the prefix of sessions still running. Returns event codes (int8)
    and store codes (int32), both ``(N, max L)``, with -1 as padding and as "no store".
    """
    n, width = lengths.size, int(lengths.max())
    kept = _kept(spec)  # (K,) events the chain may visit
    start = np.cumsum(np.where(kept, [_START.get(name, 0.0) for name, *_ in _BROWSE], 0.0))
    start /= start[-1]
    table = np.array([[_NEXT[a].get(b, 0.0) for b, *_ in _BROWSE] for a, *_ in _BROWSE])
    table = np.where(kept[None, :], table, 0.0)
    table[~kept] = 1.0  # rows of events never visited: any valid distribution
    cdf = np.cumsum(table, axis=1) / table.sum(axis=1, keepdims=True)  # (K, K)
    cdf[:, -1] = 1.0
    carries_store = np.array([row[3] for row in _BROWSE])  # (K,)
    view, click, result, page = (
        _CODE[e] for e in ("m_card_view", "m_card_click", "search_result_click", "store_page_load")
    )

    order = np.argsort(-lengths, kind="stable")  # (N,) longest first
    running = (lengths[order][None, :] > np.arange(width)[:, None]).sum(axis=1)  # (W,)
    states = np.full((n, width), -1, dtype=np.int8)
    stores = np.full((n, width), -1, dtype=np.int32)
    state = np.searchsorted(start, rng.random(n), side="right")  # (N,)
    last_view, last_click = np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=np.int32)
    for t in range(width):
        m = running[t]
        if t:
            state = (rng.random(m)[:, None] >= cdf[state[:m]]).sum(axis=1)  # (m,)
        store = np.searchsorted(popularity_cdf, rng.random(m), side="right").astype(np.int32)
        follow = rng.random(m)
        seen, clicked = last_view[:m], last_click[:m]
        on_seen = (state == click) & (seen >= 0) & (follow < spec.p_click_seen_card)
        store[on_seen] = seen[on_seen]
        on_clicked = (state == page) & (clicked >= 0) & (follow < spec.p_page_follows_click)
        store[on_clicked] = clicked[on_clicked]
        store[~carries_store[state]] = -1
        last_view[:m] = np.where(state == view, store, seen)
        last_click[:m] = np.where((state == click) | (state == result), store, clicked)
        states[order[:m], t] = state
        stores[order[:m], t] = store
    return states, stores


def _kept(spec: SyntheticSpec) -> np.ndarray:
    """Which browsing events (by code) the chain may visit: all of them unless restricted."""
    if not spec.browse_events:
        return np.ones(len(_BROWSE), dtype=bool)
    return np.isin([name for name, *_ in _BROWSE], spec.browse_events)


def _check_vocabulary(browse_events: tuple[str, ...]) -> None:
    """A restricted vocabulary must name browsing events the chain can start in and move among."""
    if not browse_events:
        return
    names = [name for name, *_ in _BROWSE]
    unknown = sorted(set(browse_events) - set(names))
    if unknown:
        raise ConfigError(
            f"SyntheticSpec.browse_events holds unknown event(s) {unknown}; allowed: {names}."
        )
    kept = set(browse_events)
    if not kept & set(_START):
        raise ConfigError(
            f"SyntheticSpec.browse_events {sorted(kept)} holds no event a session can start with; "
            f"add one of {sorted(_START)}."
        )
    for name in sorted(kept):
        if not kept & set(_NEXT[name]):
            raise ConfigError(
                f"SyntheticSpec.browse_events: after {name!r} the chain can only move to "
                f"{sorted(_NEXT[name])}, none of them kept; add one."
            )


def _position_curve(spec: SyntheticSpec) -> np.ndarray:
    """Effect multiplier by 1-based position (index 0 unused): early events count more."""
    position = np.arange(spec.max_length + 1)  # (max_length + 1,)
    decay = np.exp(-np.maximum(position - 1, 0) / spec.position_decay)
    return spec.position_floor + (1.0 - spec.position_floor) * decay


def _order_bonus(rows: np.ndarray, event: np.ndarray, store: np.ndarray, window: int) -> np.ndarray:
    """Mark store page loads preceded, within ``window`` steps, by a card click on the same store.

    The inputs are the browsing events flattened session by session (``rows`` = session index).
    """
    is_page = event == _CODE["store_page_load"]
    bonus = np.zeros(event.size, dtype=bool)
    for lag in range(1, window + 1):
        earlier = np.zeros(event.size, dtype=bool)
        earlier[lag:] = (
            (rows[lag:] == rows[:-lag])
            & (event[:-lag] == _CODE["m_card_click"])
            & (store[:-lag] == store[lag:])
        )
        bonus |= earlier
    return bonus & is_page


def _tail(
    spec: SyntheticSpec,
    converted: np.ndarray,
    last_store: np.ndarray,
    popularity_cdf: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Funnel steps, the order and post-order events that follow each session's browsing.

    Converted sessions mostly add items, open the cart and check out, then order, then sometimes
    browse on; the others sometimes abandon part of the funnel. Funnel and order events carry the
    store the session ended on. Returns codes and stores, both ``(N, T)`` with -1 as padding.
    """
    n = converted.size
    items = 1 + np.minimum(rng.poisson(spec.mean_extra_items, n), spec.max_extra_items)  # (N,)
    draws = rng.random((n, 3))
    abandoned_add = draws[:, 0] < spec.p_abandoned_add_item
    abandoned_cart = abandoned_add & (draws[:, 1] < spec.p_abandoned_cart)
    add = np.where(converted, draws[:, 0] < spec.p_add_item, abandoned_add)
    cart = np.where(converted, draws[:, 1] < spec.p_cart, abandoned_cart)
    checkout = np.where(
        converted,
        draws[:, 2] < spec.p_checkout,
        abandoned_cart & (draws[:, 2] < spec.p_abandoned_checkout),
    )
    n_post = np.where(
        converted & (rng.random(n) < spec.p_post_conversion),
        rng.integers(1, spec.max_post_conversion + 1, n),
        0,
    )  # (N,)
    post_names = list(_POST)
    post_kept = _kept(spec)[[_CODE[e] for e in post_names]]
    if not post_kept.any():
        n_post[:] = 0  # no post-order event is in the vocabulary
        post_kept[:] = True  # keep the CDF below well defined
    post_cdf = np.cumsum(np.where(post_kept, list(_POST.values()), 0.0))
    post_cdf /= post_cdf[-1]
    post_width = spec.max_post_conversion
    post = np.array([_CODE[e] for e in post_names])[
        np.searchsorted(post_cdf, rng.random((n, post_width)), side="right")
    ]  # (N, P)
    post_store = np.where(
        post == _CODE["m_card_view"],
        np.searchsorted(popularity_cdf, rng.random((n, post_width)), side="right"),
        -1,
    )
    post[np.arange(post_width)[None, :] >= n_post[:, None]] = -1

    slots = np.arange(1 + spec.max_extra_items)[None, :] < (add * items)[:, None]  # (N, I)
    codes = np.concatenate(
        [
            np.where(slots, _ADD, -1),
            np.where(cart, _CART, -1)[:, None],
            np.where(checkout, _CHECKOUT, -1)[:, None],
            np.where(converted, _ORDER, -1)[:, None],
            post,
        ],
        axis=1,
    ).astype(np.int8)  # (N, I + 3 + P)
    stores = np.where(codes >= 0, last_store[:, None], -1)
    stores[:, codes.shape[1] - post_width :] = np.where(post >= 0, post_store, -1)
    return codes, stores.astype(np.int32)


def _timestamps(
    spec: SyntheticSpec, session_of: np.ndarray, user_of: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Event times: lognormal gaps within a session, hours to days between a user's sessions.

    ``session_of`` (E,) is sorted; ``user_of`` (N,) is non-decreasing. Times are whole
    milliseconds, returned as datetime64[us] (the unit Parquet readers such as Spark accept).
    """
    n = user_of.size
    gaps = np.exp(
        np.log(spec.gap_median_seconds) + spec.gap_sigma * rng.standard_normal(session_of.size)
    )
    gaps = np.rint(np.clip(gaps, 1.0, spec.max_gap_seconds) * 1e3).astype(np.int64)  # (E,) ms
    first = np.searchsorted(session_of, np.arange(n))  # (N,) index of each session's first event
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= elapsed[first][session_of]  # (E,) time since the session's first event
    duration = elapsed[np.append(first[1:], session_of.size) - 1]  # (N,)
    hour = 3_600_000  # ms
    separation = spec.min_session_separation_hours * hour + rng.exponential(
        spec.mean_extra_separation_hours * hour, n
    )
    step = np.cumsum(duration + separation.astype(np.int64))  # (N,) end of session + separation
    before = step - (duration + separation.astype(np.int64))  # exclusive prefix sum
    user_first = np.searchsorted(user_of, np.arange(user_of[-1] + 1))  # (U,)
    offset = rng.uniform(0, spec.span_days * 24 * hour, user_first.size).astype(np.int64)
    session_start = offset[user_of] + before - before[user_first][user_of]  # (N,) ms
    origin = np.datetime64(pd.Timestamp(spec.start).to_datetime64(), "us")
    return origin + ((session_start[session_of] + elapsed) * 1000).astype("timedelta64[us]")


def _store_labels(n_stores: int) -> tuple[list[str], list[str]]:
    """Store ids ("st017") and readable, unique names ("Golden Dragon", "Happy Pizza", ...)."""
    width = max(3, len(str(n_stores - 1)))
    ids = [f"st{i:0{width}d}" for i in range(n_stores)]
    k = len(_STORE_PREFIXES)  # == len(_STORE_NOUNS), so each (prefix, noun) pair appears once
    names = [
        f"{_STORE_PREFIXES[i % k]} {_STORE_NOUNS[(i // k + i) % k]}"
        + (f" {i // (k * k) + 1}" if i >= k * k else "")
        for i in range(n_stores)
    ]
    return ids, names


def _take(values: pa.Array, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Strings by code (negative codes give nulls), built in Arrow without Python objects."""
    codes = np.asarray(codes)
    taken = values.take(pa.array(codes, mask=codes < 0))
    return pd.array(taken, dtype="str")
