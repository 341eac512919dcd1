"""Every numeric setting finite and in range, and the device a name torch knows, before any work.

A type check lets ``nan``, ``inf``, a learning rate of a million or a device called ``"tpu"``
through; each would fail late (an optimiser error after the data is read, a model that never
trains, a torch traceback) or not at all. :func:`check_ranges` rejects them when the config is
built, with the key, the value and what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from eventlift.exceptions import ConfigError

if TYPE_CHECKING:
    from eventlift.config import Config

__all__ = ["DEVICE_PATTERN", "check_ranges"]

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


def check_ranges(config: Config) -> None:
    """Raise :class:`~eventlift.exceptions.ConfigError` for the first value out of range."""
    train, sessions, model, attribution = (
        config.train,
        config.sessions,
        config.model,
        config.attribution,
    )
    values = [
        ("[train] learning_rate", train.learning_rate, LEARNING_RATE),
        ("[train] patience", train.patience, NON_NEGATIVE),
        ("[train] min_count", train.min_count, AT_LEAST_ONE),
        ("[sessions] inactivity_gap_minutes", sessions.inactivity_gap_minutes, POSITIVE),
        ("[model] n_heads", model.n_heads, AT_LEAST_ONE),
        ("[model] d_ff", model.d_ff, AT_LEAST_ONE),
        ("[model] gap_buckets", model.gap_buckets, AT_LEAST_ONE),
        ("[attribution] bootstrap", attribution.bootstrap, NON_NEGATIVE),
        ("[attribution] min_support", attribution.min_support, NON_NEGATIVE),
        ("[attribution] faithfulness_sessions", attribution.faithfulness_sessions, NON_NEGATIVE),
    ]
    if train.weight_decay != "auto":
        values.append(("[train] weight_decay", train.weight_decay, NON_NEGATIVE))
    if train.pos_weight is not None:
        values.append(("[train] pos_weight", train.pos_weight, POSITIVE))
    values += [("[train] split_fractions", f, NON_NEGATIVE) for f in train.split_fractions]
    for key, value, (test, allowed) in values:
        number = float(value)
        if not math.isfinite(number) or not test(number):
            raise ConfigError(f"{key} must be {allowed}; got {value}.")
    if not DEVICE_PATTERN.match(train.device):
        raise ConfigError(
            f'[train] device must be "auto", "cpu", "cuda", "cuda:N" or "mps"; got '
            f"{train.device!r}."
        )
