"""The world the synthetic log is drawn from: its events, its Markov chain and every knob.

:mod:`eventlift.data.synthetic` draws sessions from this world; the knobs (:class:`SyntheticSpec`)
and the named shapes of real logs (:data:`VARIANTS`) are here so that the world can be read, and
varied, apart from the sampling code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from eventlift.exceptions import ConfigError

__all__ = [
    "BROWSE",
    "CATEGORIES",
    "CODE",
    "CONVERSION_EVENT",
    "FUNNEL_EVENTS",
    "NAMES",
    "NEXT",
    "POST",
    "START",
    "VARIANTS",
    "SyntheticSpec",
    "check_vocabulary",
    "store_labels",
]

# Browsing events: name, category, planted log-odds effect (before `effect_scale`), carries a store.
BROWSE = (
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

NAMES = tuple(row[0] for row in BROWSE) + FUNNEL_EVENTS + (CONVERSION_EVENT,)
CATEGORIES = tuple(row[1] for row in BROWSE) + ("funnel",) * 3 + ("conversion",)
CODE = {name: code for code, name in enumerate(NAMES)}

# Markov chain over the browsing events: first-event weights, then next-event weights per event.
START = {"home_page_load": 5, "m_card_view": 2, "search_submit": 1, "store_page_load": 1,
          "tab_switch": 1, "m_banner_view": 1}  # fmt: skip
NEXT = {
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
POST = {"home_page_load": 3, "m_card_view": 3, "app_background": 2, "tab_switch": 1}

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
    """Every knob of the synthetic log; the defaults give the demo's data set.

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
        check_vocabulary(self.browse_events)
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


def check_vocabulary(browse_events: tuple[str, ...]) -> None:
    """A restricted vocabulary must name browsing events the chain can start in and move among."""
    if not browse_events:
        return
    names = [name for name, *_ in BROWSE]
    unknown = sorted(set(browse_events) - set(names))
    if unknown:
        raise ConfigError(
            f"SyntheticSpec.browse_events holds unknown event(s) {unknown}; allowed: {names}."
        )
    kept = set(browse_events)
    if not kept & set(START):
        raise ConfigError(
            f"SyntheticSpec.browse_events {sorted(kept)} holds no event a session can start with; "
            f"add one of {sorted(START)}."
        )
    for name in sorted(kept):
        if not kept & set(NEXT[name]):
            raise ConfigError(
                f"SyntheticSpec.browse_events: after {name!r} the chain can only move to "
                f"{sorted(NEXT[name])}, none of them kept; add one."
            )


def store_labels(n_stores: int) -> tuple[list[str], list[str]]:
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
