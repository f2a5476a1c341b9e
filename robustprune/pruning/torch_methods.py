"""Ready-made methods: the criteria of ``torch.nn.utils.prune`` as score-based pruners.

torch's functions prune one module by a given amount; here the harness picks the amount so the
whole network meets the budget, with every prunable layer losing the same fraction, as
calling the function on every layer with one ``amount`` would.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustprune.pruning.base import Pruner
from robustprune.pruning.masks import prunable_weights
from robustprune.pruning.sample import Sample
from robustprune.pruning.scored import ChannelScorePruner, WeightScorePruner

ORIGIN = f"ready-made from torch {torch.__version__.split('+')[0]}"
"""Where these methods come from, as ``robustprune list pruners`` shows it."""


class TorchL1Unstructured(WeightScorePruner):
    """Smallest |w| of each layer, the same fraction per layer (torch's l1_unstructured)."""

    name = "torch:l1_unstructured"
    data_informed = False
    allocation = "layer"

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        return {name: weight.detach().abs() for name, weight in prunable_weights(model).items()}


class TorchRandomUnstructured(WeightScorePruner):
    """Uniformly random weights of each layer, the same fraction per layer (torch's random_unstructured)."""

    name = "torch:random_unstructured"
    data_informed = False
    allocation = "layer"

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        # torch's global generator, which the harness seeds from the curve's seed and step
        return {name: torch.rand(weight.shape) for name, weight in prunable_weights(model).items()}


class TorchLnStructured(ChannelScorePruner):
    """Output filters by l2 norm, the same keep fraction per layer (torch's ln_structured, n=2, dim=0)."""

    name = "torch:ln_structured"
    data_informed = False
    allocation = "uniform"
    unit = "filter"

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        return {
            name: torch.linalg.vector_norm(weight.detach().flatten(1), ord=2, dim=1)
            for name, weight in prunable_weights(model).items()
        }


TORCH_METHODS: tuple[type[Pruner], ...] = (
    TorchL1Unstructured,
    TorchLnStructured,
    TorchRandomUnstructured,
)
"""Every ready-made ``torch.nn.utils.prune`` method, in name order."""
