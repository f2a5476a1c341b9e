"""SiPP: sensitivity-informed (deterministic) weight pruning, one global threshold on s_fk."""

from __future__ import annotations

from torch import nn

from robustprune.pruning.base import Masks, Pruner, Sample, register_pruner
from robustprune.pruning.masks import global_threshold_masks, parameter_count, weight_name
from robustprune.pruning.sensitivity import weight_sensitivities


@register_pruner
class SiPP(Pruner):
    """Remove the weights with the lowest data-informed sensitivity network-wide."""

    name = "SiPP"
    structured = False
    data_informed = True

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        scores = {
            weight_name(layer): found.scores
            for layer, found in weight_sensitivities(model, sample).items()
        }
        return global_threshold_masks(model, scores, prune_ratio, parameter_count(model))
