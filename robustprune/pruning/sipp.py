"""SiPP: sensitivity-informed (deterministic) weight pruning, one global threshold on s_fk."""

from __future__ import annotations

from torch import nn

from robustprune.pruning.base import Masks, Pruner, Sample, register_pruner
from robustprune.pruning.budget import fit_live_threshold
from robustprune.pruning.dead import DeadStructure
from robustprune.pruning.masks import GlobalThreshold, parameter_count, weight_name
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
        count = parameter_count(model)
        ranking = GlobalThreshold(model, scores)
        dead = DeadStructure(model, sample)
        return fit_live_threshold(
            model, lambda ratio: ranking.masks(ratio, count), dead, prune_ratio
        )
