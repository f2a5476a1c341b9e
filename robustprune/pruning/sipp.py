"""SiPP: sensitivity-informed (deterministic) weight pruning, one global threshold on s_fk."""

from __future__ import annotations

from torch import nn

from robustprune.pruning.base import Pruner
from robustprune.pruning.budget import fit_live_threshold
from robustprune.pruning.masks import Masks, weight_name
from robustprune.pruning.sample import Sample
from robustprune.pruning.sensitivity import weight_sensitivities


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
        return fit_live_threshold(model, scores, sample, prune_ratio)
