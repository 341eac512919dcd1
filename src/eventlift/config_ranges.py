"""Every numeric setting finite and in range, and the device a name torch knows, before any work.

A type check lets ``nan``, ``inf``, a learning rate of a million or a device called ``"tpu"``
through; each would fail late (an optimiser error after the data is read, a model that never
trains, a torch traceback) or not at all. the checks here reject them when the config is
built (:meth:`eventlift.config.Config.check` lists the keys), with the key, the value and what
is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

from eventlift.exceptions import ConfigError

__all__ = [
    "AT_LEAST_ONE",
    "DEVICE_PATTERN",
    "LEARNING_RATE",
    "NON_NEGATIVE",
    "POSITIVE",
    "check_device",
    "check_numbers",
    "check_window",
]

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
MAX_LEARNING_RATE = 1.0  # AdamW steps beyond this diverge on any model this size


def _rule(test: Callable[[float], bool], allowed: str) -> tuple[Callable[[float], bool], str]:
    return test, allowed


POSITIVE = _rule(lambda v: v > 0, "a finite number above 0")
NON_NEGATIVE = _rule(lambda v: v >= 0, "a finite number, 0 or more")
AT_LEAST_ONE = _rule(lambda v: v >= 1, "a whole number, 1 or more")
LEARNING_RATE = _rule(
    lambda v: 0 < v <= MAX_LEARNING_RATE, f"above 0 and at most {MAX_LEARNING_RATE:g} (e.g. 2e-3)"
)


Rule = tuple[Callable[[float], bool], str]


def check_numbers(values: Iterable[tuple[str, float, Rule]]) -> None:
    """Raise :class:`~eventlift.exceptions.ConfigError` for the first ``(key, value, rule)``
    whose value is not finite or breaks its rule."""
    for key, value, (test, allowed) in values:
        number = float(value)
        if not math.isfinite(number) or not test(number):
            raise ConfigError(f"{key} must be {allowed}; got {value}.")


def check_device(name: str) -> None:
    """The ``[train] device`` is a name torch knows (whether it exists is checked before
    training, by :func:`eventlift.model.batching.select_device`)."""
    if not DEVICE_PATTERN.match(name):
        raise ConfigError(
            f'[train] device must be "auto", "cpu", "cuda", "cuda:N" or "mps"; got {name!r}.'
        )


def check_window(window: str, window_events: int | None, window_minutes: float | None) -> None:
    """A prefix window has a size; the sizes belong to the prefix window only."""
    sizes = {"window_events": window_events, "window_minutes": window_minutes}
    given = {key: value for key, value in sizes.items() if value is not None}
    if window != "prefix" and given:
        raise ConfigError(
            f'[sessions] {", ".join(given)} applies only to window = "prefix"; this config '
            f'has window = {window!r}. Fix: set window = "prefix" or remove it.'
        )
    if window == "prefix" and not given:
        raise ConfigError(
            '[sessions] window = "prefix" needs window_events (the first N events of every '
            "session) or window_minutes (its first T minutes), or both; e.g. "
            "window_events = 10."
        )
    check_numbers((f"[sessions] {key}", value, POSITIVE) for key, value in given.items())
