"""Per-event attribution methods, selectable by name, and the batched runner over sessions."""

from __future__ import annotations

from eventlift.attribution.base import Attributor
from eventlift.attribution.grad_x_input import GradientXInput
from eventlift.attribution.runner import AttributionResult, attribute_sessions, normalise_scores
from eventlift.exceptions import ConfigError
from eventlift.model.transformer import EventTransformer

__all__ = [
    "METHODS",
    "AttributionResult",
    "Attributor",
    "GradientXInput",
    "attribute_sessions",
    "get_attributor",
    "normalise_scores",
]

METHODS: dict[str, type[Attributor]] = {GradientXInput.name: GradientXInput}


def get_attributor(name: str, model: EventTransformer) -> Attributor:
    """The attribution method called ``name``, bound to ``model``."""
    if name not in METHODS:
        raise ConfigError(
            f"[attribution] method: unknown method {name!r}; available: {', '.join(METHODS)}."
        )
    return METHODS[name](model)
