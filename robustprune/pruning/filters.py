"""FT: filter thresholding, output filters by l1 norm with the same keep fraction in every layer."""

from __future__ import annotations

import torch
from torch import nn

from robustprune.pruning.base import Pruner
from robustprune.pruning.budget import STRUCTURED_TOLERANCE, fit_live, ratio_meter
from robustprune.pruning.dead import DeadStructure
from robustprune.pruning.masks import Masks, combine_masks, current_masks, weight_name
from robustprune.pruning.sample import Sample
from robustprune.pruning.structure import channel_structure, example_input


class FilterThresholding(Pruner):
    """Remove the lowest-l1 output filters of every layer but the output layers, at one fraction.

    As torchprune (method/uni_filter/uni_filter_allocator.py:41, with the current nonzero
    filters counted in method/base/base_allocator.py:92-93), a layer with n nonzero filters
    keeps max(1, round(keep * n)) of them at keep fraction ``keep``; filters that are already
    zero stay removed. Filters leave in order of the fraction at which each layer would lose
    its next one, so the fraction moves one filter at a time and the achieved ratio can be
    root-found closely on the network that is left once structured propagation and dead
    structure (dead.py) are done.
    """

    name = "FT"
    structured = True
    data_informed = False

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        structure = channel_structure(model, example_input(sample, self.name))
        dead_structure = DeadStructure(model, sample, structure)
        layers = [name for name in structure.modules if name not in structure.output_layers]
        removal_orders = {
            name: filter_removal_order(structure.modules[name].weight) for name in layers
        }
        zero_filters = {name: zero_filter_count(structure.modules[name].weight) for name in layers}
        events = sorted(
            (removal_fraction(removed, len(order) - zero_filters[name]), index, name)
            for index, (name, order) in enumerate(removal_orders.items())
            for removed in range(1, len(order) - zero_filters[name])  # keep one filter
        )
        existing = current_masks(model)  # entries zeroed by earlier steps stay removed

        def make_masks(removed_events: float) -> Masks:
            counts = dict(zero_filters)
            for _fraction, _index, name in events[: int(removed_events)]:
                counts[name] += 1
            masks = {}
            for name, order in removal_orders.items():
                keep = torch.ones(len(order), dtype=torch.bool, device=order.device)
                keep[order[: counts[name]]] = False
                weight = structure.modules[name].weight
                masks[weight_name(name)] = (
                    keep.view(-1, *([1] * (weight.dim() - 1))).expand_as(weight).clone()
                )
            return structure.propagate(combine_masks(masks, existing))

        return fit_live(
            make_masks,
            dead_structure.remove,
            ratio_meter(model),
            0,
            len(events),
            prune_ratio,
            integer=True,
            tolerance=STRUCTURED_TOLERANCE,
        )


def removal_fraction(removed: int, nonzero: int) -> float:
    """The fraction of its ``nonzero`` filters at which a layer loses its ``removed``-th one:
    round((1 - fraction) * nonzero) drops to nonzero - removed just above it."""
    return (removed - 0.5) / nonzero


def zero_filter_count(weight: torch.Tensor) -> int:
    """Output filters of ``weight`` that are already entirely zero (removed by earlier steps)."""
    return int((~weight.detach().reshape(weight.shape[0], -1).ne(0).any(dim=1)).sum())


def filter_removal_order(weight: torch.Tensor) -> torch.Tensor:
    """Output filter indices by ascending l1 norm; already-zero filters first, ties by index."""
    norms = weight.detach().reshape(weight.shape[0], -1).abs().sum(dim=1).to(torch.float64)
    norms[norms == 0] = -1.0
    return torch.sort(norms, stable=True).indices
