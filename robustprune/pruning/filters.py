"""FT: filter thresholding, output filters by l1 norm with the same keep fraction in every layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustprune.pruning.masks import prunable_weights
from robustprune.pruning.sample import Sample
from robustprune.pruning.scored import ChannelScorePruner, removal_order


class FilterThresholding(ChannelScorePruner):
    """Remove the lowest-l1 output filters of every layer but the output layers, at one fraction.

    As torchprune (method/uni_filter/uni_filter_allocator.py:41, with the current nonzero
    filters counted in method/base/base_allocator.py:92-93), a layer with n nonzero filters
    keeps max(1, round(keep * n)) of them at keep fraction ``keep``; filters that are already
    zero stay removed (the ``"uniform"`` allocation of ``ChannelScorePruner``).
    """

    name = "FT"
    data_informed = False
    allocation = "uniform"
    unit = "filter"

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        return {name: filter_l1(weight) for name, weight in prunable_weights(model).items()}


def filter_l1(weight: Tensor) -> Tensor:
    """The l1 norm of each output filter of ``weight``."""
    return weight.detach().reshape(weight.shape[0], -1).abs().sum(dim=1)


def filter_removal_order(weight: Tensor) -> Tensor:
    """Output filter indices by ascending l1 norm; already-zero filters first, ties by index."""
    zero = ~weight.detach().reshape(weight.shape[0], -1).ne(0).any(dim=1)
    return removal_order(filter_l1(weight).to(torch.float64), zero)
