"""WT: weight thresholding, one global threshold on |w| over all Conv2d/Linear weights."""

from __future__ import annotations

from torch import nn

from robustprune.pruning.base import Masks, Pruner, Sample, register_pruner
from robustprune.pruning.masks import global_threshold_masks, parameter_count, prunable_weights


@register_pruner
class WeightThresholding(Pruner):
    """Remove the smallest-magnitude weights network-wide."""

    name = "WT"
    structured = False
    data_informed = False

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        scores = {name: weight.detach().abs() for name, weight in prunable_weights(model).items()}
        return global_threshold_masks(model, scores, prune_ratio, parameter_count(model))
