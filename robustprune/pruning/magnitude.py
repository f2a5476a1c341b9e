"""WT: weight thresholding, one global threshold on |w| over all Conv2d/Linear weights."""

from __future__ import annotations

from torch import Tensor, nn

from robustprune.pruning.masks import prunable_weights
from robustprune.pruning.sample import Sample
from robustprune.pruning.scored import WeightScorePruner


class WeightThresholding(WeightScorePruner):
    """Remove the smallest-magnitude weights network-wide (dead weights first, see dead.py)."""

    name = "WT"
    data_informed = False
    allocation = "global"

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        return {name: weight.detach().abs() for name, weight in prunable_weights(model).items()}
