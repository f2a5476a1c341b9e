"""WT: weight thresholding, one global threshold on |w| over all Conv2d/Linear weights."""

from __future__ import annotations

from torch import nn

from robustprune.pruning.base import Masks, Pruner, Sample, register_pruner
from robustprune.pruning.budget import fit_live_threshold
from robustprune.pruning.dead import DeadStructure
from robustprune.pruning.masks import GlobalThreshold, parameter_count, prunable_weights


@register_pruner
class WeightThresholding(Pruner):
    """Remove the smallest-magnitude weights network-wide (dead weights first, see dead.py)."""

    name = "WT"
    structured = False
    data_informed = False

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        scores = {name: weight.detach().abs() for name, weight in prunable_weights(model).items()}
        count = parameter_count(model)
        ranking = GlobalThreshold(model, scores)
        dead = DeadStructure(model, sample)
        return fit_live_threshold(
            model, lambda ratio: ranking.masks(ratio, count), dead, prune_ratio
        )
