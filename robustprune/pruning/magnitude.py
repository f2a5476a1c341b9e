"""WT: weight thresholding, one global threshold on |w| over all Conv2d/Linear weights."""

from __future__ import annotations

from torch import nn

from robustprune.pruning.base import Pruner
from robustprune.pruning.budget import fit_live_threshold
from robustprune.pruning.masks import Masks, prunable_weights
from robustprune.pruning.sample import Sample


class WeightThresholding(Pruner):
    """Remove the smallest-magnitude weights network-wide (dead weights first, see dead.py)."""

    name = "WT"
    structured = False
    data_informed = False

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        scores = {name: weight.detach().abs() for name, weight in prunable_weights(model).items()}
        return fit_live_threshold(model, scores, sample, prune_ratio)
