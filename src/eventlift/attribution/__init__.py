"""Per-event attribution methods, selectable by name, the batched runner over sessions, and the
faithfulness scorecard that checks a method's ranking against the model."""

from __future__ import annotations

from eventlift.attribution.attention import AttentionRollout, AttentionWeights
from eventlift.attribution.base import Attributor, BatchScores
from eventlift.attribution.faithfulness import (
    FaithfulnessReport,
    event_type_removal,
    faithfulness,
)
from eventlift.attribution.grad_x_input import GradientXInput
from eventlift.attribution.integrated_gradients import IntegratedGradients
from eventlift.attribution.occlusion import Occlusion
from eventlift.attribution.runner import (
    AttributionResult,
    attribute_sessions,
    event_level_frame,
    normalise_scores,
)
from eventlift.config import ATTRIBUTION_METHODS
from eventlift.exceptions import ConfigError
from eventlift.model.transformer import EventTransformer

__all__ = [
    "METHODS",
    "AttentionRollout",
    "AttentionWeights",
    "AttributionResult",
    "Attributor",
    "BatchScores",
    "FaithfulnessReport",
    "GradientXInput",
    "IntegratedGradients",
    "Occlusion",
    "attribute_sessions",
    "event_level_frame",
    "event_type_removal",
    "faithfulness",
    "get_attributor",
    "normalise_scores",
]

_CLASSES = (GradientXInput, IntegratedGradients, AttentionWeights, AttentionRollout, Occlusion)
# name -> class, in the order of config.ATTRIBUTION_METHODS (the one list of names)
METHODS: dict[str, type[Attributor]] = {
    name: next(method for method in _CLASSES if method.name == name) for name in ATTRIBUTION_METHODS
}


def get_attributor(name: str, model: EventTransformer) -> Attributor:
    """The attribution method called ``name``, bound to ``model``, with its default settings."""
    if name not in METHODS:
        raise ConfigError(
            f"[attribution] method: unknown method {name!r}; available: {', '.join(METHODS)}."
        )
    return METHODS[name](model)
