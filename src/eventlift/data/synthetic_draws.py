"""The random part of the synthetic log: every draw of the generator's one stream, in order.

:func:`draw` plants the stores, assigns sessions to users, draws session lengths, walks the
Markov chain, scores each session under the planted model, draws its label, appends funnel steps
and events after the order, and draws the times. The order of these draws is the contract that
makes a seed reproduce a log; :mod:`eventlift.data.synthetic` turns the arrays into the event
frame and the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventlift.data.synthetic_world import (
    BROWSE,
    CODE,
    CONVERSION_EVENT,
    FUNNEL_EVENTS,
    NEXT,
    POST,
    START,
    SyntheticSpec,
)

__all__ = ["Drawn", "draw", "kept_browse_events"]

_ADD, _CART, _CHECKOUT, _ORDER = (CODE[name] for name in (*FUNNEL_EVENTS, CONVERSION_EVENT))


@dataclass(frozen=True)
class Drawn:
    """Everything the generator's one random stream drew, as arrays over sessions or events."""

    user_of: np.ndarray  # (N,) user code of each session
    store_effect: np.ndarray  # (n_stores,) planted store effects
    best_store: int  # code of the best store
    rows: np.ndarray  # (E_browse,) session of each browsing event
    event: np.ndarray  # (E_browse,) event code
    store: np.ndarray  # (E_browse,) store code, -1 = none
    position: np.ndarray  # (E_browse,) 1-based position among the browsing events
    effects: np.ndarray  # (len(BROWSE),) planted event effects, scaled
    multiplier: np.ndarray  # (max_length + 1,) position damping, index = position
    contribution: np.ndarray  # (E_browse,) true log-odds contribution
    probability: np.ndarray  # (N,) true conversion probability
    converted: np.ndarray  # (N,) drawn label
    session_of: np.ndarray  # (E,) session of every event of the log
    event_codes: np.ndarray  # (E,)
    store_codes: np.ndarray  # (E,)
    timestamps: pd.Series  # (E,)


def draw(spec: SyntheticSpec, rng: np.random.Generator) -> Drawn:
    """Stores, users, session lengths, walks, labels, funnel tails and times, in this order
    (the order of the draws is what makes a seed reproduce a log)."""
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
    effects = spec.effect_scale * np.array([row[2] for row in BROWSE])
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
    return Drawn(
        user_of=user_of,
        store_effect=store_effect,
        best_store=best_store,
        rows=rows,
        event=event,
        store=store,
        position=position,
        effects=effects,
        multiplier=multiplier,
        contribution=contribution,
        probability=probability,
        converted=converted,
        session_of=session_of,
        event_codes=codes[keep],
        store_codes=all_stores[keep],
        timestamps=_timestamps(spec, session_of, user_of, rng),
    )


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
    kept = kept_browse_events(spec)  # (K,) events the chain may visit
    start = np.cumsum(np.where(kept, [START.get(name, 0.0) for name, *_ in BROWSE], 0.0))
    start /= start[-1]
    table = np.array([[NEXT[a].get(b, 0.0) for b, *_ in BROWSE] for a, *_ in BROWSE])
    table = np.where(kept[None, :], table, 0.0)
    table[~kept] = 1.0  # rows of events never visited: any valid distribution
    cdf = np.cumsum(table, axis=1) / table.sum(axis=1, keepdims=True)  # (K, K)
    cdf[:, -1] = 1.0
    carries_store = np.array([row[3] for row in BROWSE])  # (K,)
    view, click, result, page = (
        CODE[e] for e in ("m_card_view", "m_card_click", "search_result_click", "store_page_load")
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


def kept_browse_events(spec: SyntheticSpec) -> np.ndarray:
    """Which browsing events (by code) the chain may visit: all of them unless restricted."""
    if not spec.browse_events:
        return np.ones(len(BROWSE), dtype=bool)
    return np.isin([name for name, *_ in BROWSE], spec.browse_events)


def _position_curve(spec: SyntheticSpec) -> np.ndarray:
    """Effect multiplier by 1-based position (index 0 unused): early events count more."""
    position = np.arange(spec.max_length + 1)  # (max_length + 1,)
    decay = np.exp(-np.maximum(position - 1, 0) / spec.position_decay)
    return spec.position_floor + (1.0 - spec.position_floor) * decay


def _order_bonus(rows: np.ndarray, event: np.ndarray, store: np.ndarray, window: int) -> np.ndarray:
    """Mark store page loads preceded, within ``window`` steps, by a card click on the same store.

    The inputs are the browsing events flattened session by session (``rows`` = session index).
    """
    is_page = event == CODE["store_page_load"]
    bonus = np.zeros(event.size, dtype=bool)
    for lag in range(1, window + 1):
        earlier = np.zeros(event.size, dtype=bool)
        earlier[lag:] = (
            (rows[lag:] == rows[:-lag])
            & (event[:-lag] == CODE["m_card_click"])
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
    post_names = list(POST)
    post_kept = kept_browse_events(spec)[[CODE[e] for e in post_names]]
    if not post_kept.any():
        n_post[:] = 0  # no post-order event is in the vocabulary
        post_kept[:] = True  # keep the CDF below well defined
    post_cdf = np.cumsum(np.where(post_kept, list(POST.values()), 0.0))
    post_cdf /= post_cdf[-1]
    post_width = spec.max_post_conversion
    post = np.array([CODE[e] for e in post_names])[
        np.searchsorted(post_cdf, rng.random((n, post_width)), side="right")
    ]  # (N, P)
    post_store = np.where(
        post == CODE["m_card_view"],
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
