"""Logs where the leaks are planted and known: the leak detector's own test bed.

The demo's funnel leaks the label almost perfectly (each step in 92-96 % of converted sessions),
which any detector catches. Real funnels are partial (carts are abandoned), a single step can
inflate AUC without being near-certain, and the cut at conversion leaks by itself: converted
sessions stop just before the purchase while the others run to their natural end (an exit event,
more browsing). Each :class:`LeakScenario` plants some of these beside genuine drivers, so a
detector can be scored on what it names: every funnel step and every cut leak should be, and no
genuine driver.

Sessions are short walks over background events (Zipf-like popularity, no effect on conversion).
Drivers are events whose presence adds a planted log-odds effect; the label is drawn from the
resulting probability. Then the leaks are written around the label: funnel steps appear with one
probability in converted sessions and another in the rest, either among the last events before
the purchase (``"late"``) or anywhere in the session (``"anywhere"``); non-converted sessions may
browse on and end on an exit event. Converted sessions end with ``purchase`` and sometimes a few
events after it, which the pipeline removes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eventlift.exceptions import ConfigError

__all__ = ["CONVERSION", "EXIT", "SCENARIOS", "Driver", "LeakScenario", "Step", "generate_scenario"]

CONVERSION = "purchase"
EXIT = "app_exit"  # the natural end of some non-converted sessions
BACKGROUND = (
    "home_view", "product_list", "product_view", "search", "banner_view", "scroll", "tab_switch",
    "category_view", "review_read", "wishlist_view", "promo_view", "help_view", "compare_view",
    "recently_viewed", "deal_view", "brand_view", "store_locator", "size_guide", "share",
    "notification_open", "account_view", "filter", "sort", "zoom", "video_view", "qna_view",
    "map_view", "coupon_view", "newsletter_view", "faq_view",
)  # fmt: skip


@dataclass(frozen=True)
class Step:
    """A funnel step: written because the session converts (or was about to), not a cause.

    ``p_converted`` and ``p_other`` are its chance in converted and other sessions; with
    ``after`` (an earlier step's name) the chances hold only where that step appears, as a cart
    appears only after an item was added. ``placement`` is ``"late"`` (in the last events before
    the purchase, steps in their declared order) or ``"anywhere"`` (at a random position).
    """

    name: str
    p_converted: float
    p_other: float
    placement: str = "late"
    after: str | None = None


@dataclass(frozen=True)
class Driver:
    """A genuine driver: present in ``p_present`` of sessions (once or more, anywhere), adding
    ``effect`` to the conversion log-odds."""

    name: str
    p_present: float
    effect: float


@dataclass(frozen=True)
class LeakScenario:
    """One planted log: its funnel steps, drivers and how sessions end, by class."""

    name: str
    steps: tuple[Step, ...] = ()
    drivers: tuple[Driver, ...] = ()
    n_sessions: int = 3_000
    base_logit: float = -1.8
    length_median: float = 10.0  # browsing events per session (lognormal, at least 1)
    length_sigma: float = 0.5
    n_background: int = 10  # background event types (at most len(BACKGROUND))
    p_browse_on: float = 0.0  # non-converted sessions browse on at their end ...
    mean_browse_on: float = 4.0  # ... for 1 + Poisson(this) more background events
    p_exit: float = 0.0  # non-converted sessions that end on the exit event
    seed: int = 0
    notes: str = field(default="", compare=False)

    @property
    def leaks(self) -> tuple[str, ...]:
        """The events a detector should name."""
        return tuple(step.name for step in self.steps)

    @property
    def cut_leak(self) -> bool:
        """True when the natural end of a session differs by class."""
        return self.p_browse_on > 0 or self.p_exit > 0

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps] + [d.name for d in self.drivers]
        if len(set(names)) != len(names) or set(names) & {CONVERSION, EXIT, *BACKGROUND}:
            raise ConfigError(f"LeakScenario {self.name!r}: event names must be unique: {names}.")
        for step in self.steps:
            if step.placement not in ("late", "anywhere"):
                raise ConfigError(f"Step {step.name!r}: placement is 'late' or 'anywhere'.")
            if step.after is not None and step.after not in names[: names.index(step.name)]:
                raise ConfigError(f"Step {step.name!r}: after names no earlier step.")
        if not 1 <= self.n_background <= len(BACKGROUND):
            raise ConfigError(f"n_background must be in [1, {len(BACKGROUND)}].")


def generate_scenario(scenario: LeakScenario) -> pd.DataFrame:
    """The events of ``scenario``: ``session_id, user_id, timestamp, event, event_category``.

    The same scenario always gives the same frame.
    """
    rng = np.random.default_rng(scenario.seed)
    n = scenario.n_sessions
    background = np.array(BACKGROUND[: scenario.n_background], dtype=object)
    popularity = 1.0 / np.arange(1, len(background) + 1)
    popularity /= popularity.sum()
    lengths = np.maximum(
        1, np.rint(scenario.length_median * np.exp(scenario.length_sigma * rng.standard_normal(n)))
    ).astype(int)
    present = {d.name: rng.random(n) < d.p_present for d in scenario.drivers}
    logit = scenario.base_logit + sum(d.effect * present[d.name] for d in scenario.drivers)  # (N,)
    converted = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    steps = _draw_steps(scenario.steps, converted, rng)

    sessions = []
    for i in range(n):
        events = list(rng.choice(background, size=lengths[i], p=popularity))
        for driver in scenario.drivers:
            for _ in range(1 + rng.poisson(0.3) if present[driver.name][i] else 0):
                events.insert(int(rng.integers(0, len(events) + 1)), driver.name)
        late = []
        for step in scenario.steps:
            if not steps[step.name][i]:
                continue
            if step.placement == "late":
                late.append(step.name)
            else:
                events.insert(int(rng.integers(0, len(events) + 1)), step.name)
        events += late
        if converted[i]:
            events.append(CONVERSION)
            if rng.random() < 0.4:
                events += list(rng.choice(background, size=int(rng.integers(1, 4)), p=popularity))
        else:
            if rng.random() < scenario.p_browse_on:
                more = 1 + rng.poisson(scenario.mean_browse_on)
                events += list(rng.choice(background, size=more, p=popularity))
            if rng.random() < scenario.p_exit:
                events.append(EXIT)
        sessions.append(events)
    return _frame(sessions, rng)


def _draw_steps(
    steps: tuple[Step, ...], converted: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per step, which sessions hold it ``(N,)``: by class, and only after its ``after`` step."""
    held: dict[str, np.ndarray] = {}
    for step in steps:
        chance = np.where(converted, step.p_converted, step.p_other)
        drawn = rng.random(converted.size) < chance
        held[step.name] = drawn & held[step.after] if step.after else drawn
    return held


def _frame(sessions: list[list[str]], rng: np.random.Generator) -> pd.DataFrame:
    """Sessions to rows with ids, about two sessions per user and 20-second median gaps."""
    n = len(sessions)
    lengths = np.array([len(s) for s in sessions])
    session_of = np.repeat(np.arange(n), lengths)
    user_of = np.sort(rng.integers(0, max(1, n // 2), n))
    starts = pd.Timestamp("2026-09-01") + pd.to_timedelta(
        np.sort(rng.uniform(0, 30 * 86_400, n)).round(), unit="s"
    )
    gaps = np.clip(20.0 * np.exp(rng.standard_normal(session_of.size)), 1.0, 600.0).round()
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gaps[first] = 0.0
    offsets = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first], lengths)
    events = np.concatenate([np.array(s, dtype=object) for s in sessions])
    category = np.where(np.isin(events, [CONVERSION]), "conversion", "browse")
    return pd.DataFrame(
        {
            "session_id": pd.array([f"s{i:06d}" for i in session_of], dtype="str"),
            "user_id": pd.array([f"u{u:06d}" for u in user_of[session_of]], dtype="str"),
            "timestamp": starts[session_of] + pd.to_timedelta(offsets, unit="s"),
            "event": pd.array(events, dtype="str"),
            "event_category": pd.array(category, dtype="str"),
        }
    )


def _late(name: str, p_converted: float, p_other: float, after: str | None = None) -> Step:
    return Step(name, p_converted, p_other, "late", after)


_DRIVERS = (
    Driver("coupon_apply", 0.15, 1.2),  # presence AUC near 0.6
    Driver("store_follow", 0.3, 0.9),
    Driver("gift_finder", 0.08, 1.6),
)
_STRONG_DRIVERS = (
    Driver("size_select", 0.35, 2.0),  # presence AUC near 0.75-0.8
    Driver("delivery_check", 0.25, 1.3),
)
_FUNNEL_3 = (
    _late("add_to_cart", 0.92, 0.15),
    _late("cart_view", 0.95, 0.5, "add_to_cart"),
    _late("checkout_start", 0.95, 0.4, "cart_view"),
)

# The bed: 1 to 4 funnel steps with presence AUCs from 0.70 to 0.95, single steps that raise AUC
# by 0.10 or more wherever they sit, genuine drivers up to a presence AUC of 0.80, and logs whose
# sessions end differently by class. Presence AUCs are measured by benchmarks/leaks.py.
SCENARIOS: dict[str, LeakScenario] = {
    s.name: s
    for s in (
        LeakScenario("one_late_step_070", (_late("add_to_cart", 0.5, 0.1),), _DRIVERS),
        LeakScenario("one_late_step_080", (_late("add_to_cart", 0.68, 0.08),), _DRIVERS),
        LeakScenario("one_late_step_090", (_late("add_to_cart", 0.85, 0.05),), _DRIVERS),
        LeakScenario("one_late_step_095", (_late("add_to_cart", 0.93, 0.03),), _DRIVERS),
        LeakScenario(
            "two_steps_partial",
            (_late("add_to_cart", 0.85, 0.15), _late("checkout_start", 0.9, 0.45, "add_to_cart")),
            _DRIVERS,
        ),
        LeakScenario("three_steps_partial", _FUNNEL_3, _DRIVERS),
        LeakScenario(
            "three_steps_weak",
            (
                _late("add_to_cart", 0.7, 0.2),
                _late("cart_view", 0.85, 0.5, "add_to_cart"),
                _late("checkout_start", 0.8, 0.4, "cart_view"),
            ),
            _DRIVERS,
        ),
        LeakScenario(
            "four_steps_partial",
            (
                _late("add_to_cart", 0.9, 0.2),
                _late("cart_view", 0.95, 0.5, "add_to_cart"),
                _late("address_form", 0.9, 0.5, "cart_view"),
                _late("payment_form", 0.95, 0.5, "address_form"),
            ),
            _DRIVERS,
        ),
        LeakScenario(
            "independent_steps",
            (_late("add_to_cart", 0.75, 0.12), _late("checkout_start", 0.7, 0.1)),
            _DRIVERS,
        ),
        LeakScenario(
            "single_step_anywhere",
            (Step("cart_add_anywhere", 0.6, 0.08, "anywhere"),),
            _DRIVERS,
        ),
        LeakScenario(
            "single_step_anywhere_strong_drivers",
            (Step("cart_add_anywhere", 0.65, 0.1, "anywhere"),),
            _STRONG_DRIVERS,
        ),
        LeakScenario(
            "single_step_anywhere_long",
            (Step("cart_add_anywhere", 0.55, 0.05, "anywhere"),),
            _DRIVERS,
            length_median=25.0,
        ),
        LeakScenario("drivers_only", (), _DRIVERS + _STRONG_DRIVERS),
        LeakScenario("strong_drivers_funnel", _FUNNEL_3, _STRONG_DRIVERS),
        LeakScenario(
            "strong_drivers_one_late_step",
            (_late("add_to_cart", 0.55, 0.12),),
            _STRONG_DRIVERS,
        ),
        LeakScenario("exit_event", (), _DRIVERS, p_exit=0.6),
        LeakScenario("browse_on", (), _DRIVERS, p_browse_on=0.7),
        LeakScenario("exit_and_funnel", _FUNNEL_3, _DRIVERS, p_exit=0.5, p_browse_on=0.4),
        LeakScenario(
            "short_sessions_step",
            (_late("add_to_cart", 0.8, 0.1),),
            _DRIVERS,
            length_median=2.0,
            length_sigma=0.6,
        ),
        LeakScenario(
            "rare_conversions_funnel", _FUNNEL_3, _DRIVERS, n_sessions=8_000, base_logit=-3.6
        ),
        LeakScenario("common_conversions_funnel", _FUNNEL_3, _DRIVERS, base_logit=0.2),
        LeakScenario(
            "many_background_steps",
            (_late("add_to_cart", 0.75, 0.1), _late("checkout_start", 0.8, 0.3, "add_to_cart")),
            _DRIVERS,
            n_background=30,
            length_median=20.0,
        ),
        LeakScenario(
            "few_background_step",
            (_late("add_to_cart", 0.7, 0.12),),
            _DRIVERS,
            n_background=2,
        ),
        LeakScenario(
            "browse_on_late_step",
            (_late("add_to_cart", 0.6, 0.1),),
            _STRONG_DRIVERS,
            p_browse_on=0.5,
        ),
    )
}
