"""PFP: provable filter pruning of input channels, per-layer budgets coupled through one epsilon.

For layer l with channel sensitivities s_j (sensitivity.py), P_l output patches and K_l the
kernel area (k^2 for a k x k conv, 1 for a Linear; torchprune's ``weight[0, 0].numel()``,
method/sipp/sipp_allocator.py:69): alpha_l = 2c ln(8 (P_l + 1) K_l / delta), coef_l = alpha_l sum_j s_j,
m_l(eps) = ceil(3 (6 + 2 eps) coef_l / eps^2), kept_l = clamp(ceil(sum_j 1 - (1 - s_j / sum s)^m_l),
1, channels_l). One eps for all layers is root-found so the network meets the budget; each layer
keeps its top kept_l channels by s_j. The constants c and delta are the sample-size rule's
(sample.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustprune.pruning.base import Pruner
from robustprune.pruning.budget import STRUCTURED_TOLERANCE, fit_live, ratio_meter
from robustprune.pruning.dead import DeadStructure
from robustprune.pruning.masks import Masks, combine_masks, current_masks, weight_name
from robustprune.pruning.sample import C_CONSTANT, DELTA, Sample
from robustprune.pruning.sensitivity import channel_sensitivities
from robustprune.pruning.structure import channel_structure, example_input, kill_input_channels

LOG_EPS_RANGE = (-25.0, 60.0)
"""Natural-log bounds of the epsilon search: all sensitive channels kept ... one channel per layer."""


@dataclass
class ChannelBudget:
    """What PFP's allocation needs from one layer."""

    scores: Tensor  # s_j per input channel, float64, >= 0
    patches: int  # P_l, output patches per input
    kernel_area: int  # K_l, entries of one filter's kernel per input channel (k^2)

    @property
    def coefficient(self) -> float:
        """coef_l = alpha_l * sum_j s_j with alpha_l = 2c ln(8 (P_l + 1) K_l / delta)."""
        alpha = 2 * C_CONSTANT * math.log(8 * (self.patches + 1) * self.kernel_area / DELTA)
        return alpha * float(self.scores.sum())

    def kept(self, epsilon: float) -> int:
        """kept_l(eps) = clamp(ceil(sum_j 1 - (1 - p_j)^m_l(eps)), 1, channels)."""
        total = float(self.scores.sum())
        channels = self.scores.numel()
        if total <= 0:
            return 1
        samples = 3 * (6 + 2 * epsilon) * self.coefficient / epsilon**2
        samples = (
            float(math.ceil(samples)) if samples < 2**53 else samples
        )  # beyond: already integral
        probabilities = (self.scores / total).clamp(max=1.0)
        expected = float((-torch.expm1(samples * torch.log1p(-probabilities))).sum())
        return max(1, min(channels, math.ceil(expected - 1e-9)))


class ProvableFilterPruning(Pruner):
    """Remove the least sensitive input channels, layer budgets from PFP's error bound."""

    name = "PFP"
    structured = True
    data_informed = True

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        structure = channel_structure(model, example_input(sample, self.name))
        dead_structure = DeadStructure(model, sample, structure)
        found = channel_sensitivities(model, sample)
        budgets: dict[str, ChannelBudget] = {}
        orders: dict[str, Tensor] = {}
        for name, result in found.items():
            weight = structure.modules[name].weight.detach()
            factor = structure.input_factor(name)
            scores = result.scores.to(torch.float64).view(-1, factor).amax(dim=1)
            dead = ~weight.transpose(0, 1).reshape(scores.numel(), -1).ne(0).any(dim=1)
            scores[dead] = 0.0
            budgets[name] = ChannelBudget(scores, result.patches, weight[0, 0].numel())
            ranking = scores.clone()
            ranking[dead] = -1.0  # already removed channels go first
            orders[name] = torch.sort(ranking, descending=True, stable=True).indices
        achieved_ratio = ratio_meter(model)
        existing = current_masks(model)  # entries zeroed by earlier steps stay removed

        memo: dict[tuple[int, ...], Masks] = {}

        def masks_for(counts: dict[str, int]) -> Masks:
            key = tuple(counts.values())
            if key not in memo:
                masks = {}
                for name, keep_count in counts.items():
                    weight = structure.modules[name].weight
                    dead = torch.ones(
                        budgets[name].scores.numel(), dtype=torch.bool, device=weight.device
                    )
                    dead[orders[name][:keep_count].to(weight.device)] = False
                    mask = torch.ones_like(weight, dtype=torch.bool)
                    kill_input_channels(mask, dead, structure.input_factor(name))
                    masks[weight_name(name)] = mask
                memo[key] = structure.propagate(combine_masks(masks, existing))
            return memo[key]

        def make_masks(log_epsilon: float) -> Masks:
            return masks_for(per_layer_kept(budgets, math.exp(log_epsilon)))

        ratios: dict[int, tuple[Masks, float]] = {}  # bisection revisits mask sets
        live: dict[tuple[int, int], tuple[Masks, Masks]] = {}

        def ratio_of(masks: Masks) -> float:
            return _remembered(ratios, id(masks), masks, achieved_ratio)

        def remove_dead(masks: Masks, rounds: int) -> Masks:
            return _remembered(
                live, (id(masks), rounds), masks, lambda m: dead_structure.remove(m, rounds)
            )

        floor = per_layer_kept(budgets, math.exp(LOG_EPS_RANGE[0]))
        if ratio_of(masks_for(floor)) <= prune_ratio:
            return fit_live(
                make_masks,
                remove_dead,
                ratio_of,
                *LOG_EPS_RANGE,
                prune_ratio,
                tolerance=STRUCTURED_TOLERANCE,
            )

        # Below PFP's floor (channels of zero sensitivity are never kept by the formula): every
        # layer keeps at least a fraction (1 - t) of its channels, t root-found in [0, 1].
        def make_floor_masks(t: float) -> Masks:
            channels = {name: budget.scores.numel() for name, budget in budgets.items()}
            return masks_for(
                {name: max(floor[name], math.ceil((1 - t) * channels[name])) for name in budgets}
            )

        return fit_live(
            make_floor_masks,
            remove_dead,
            ratio_of,
            0.0,
            1.0,
            prune_ratio,
            tolerance=STRUCTURED_TOLERANCE,
        )


def _remembered(cache: dict, key, masks: Masks, compute):
    """``compute(masks)``, remembered under ``key`` (built from ``id(masks)``); the mask set is
    held beside its value, so an id reused by a later, different set is not taken for it."""
    known = cache.get(key)
    if known is None or known[0] is not masks:
        known = cache[key] = (masks, compute(masks))
    return known[1]


def per_layer_kept(budgets: dict[str, ChannelBudget], epsilon: float) -> dict[str, int]:
    """kept_l(eps) for every layer (tests and reports use it)."""
    return {name: budget.kept(epsilon) for name, budget in budgets.items()}
