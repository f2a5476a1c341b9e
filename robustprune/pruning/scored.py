"""Score-based pruners: a method states its scores, the harness does everything else.

``WeightScorePruner`` takes a score per weight entry, ``ChannelScorePruner`` a score per output
filter (or input channel) of each prunable layer. The lowest scores go first. From there the
harness meets the budget exactly on the live network (``budget.fit_live``: the ratio achieved
after structured propagation and dead structure), keeps every entry or unit that earlier
steps zeroed removed (masks are nested), never empties a layer, removes dead structure
(dead.py), closes structured masks over the channel groups (structure.py) and validates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor, nn

from robustprune.pruning.base import Pruner
from robustprune.pruning.budget import (
    STRUCTURED_TOLERANCE,
    fit_live,
    fit_live_threshold,
    ratio_meter,
    structural_closure,
)
from robustprune.pruning.dead import MAX_ROUNDS, DeadStructure
from robustprune.pruning.masks import (
    DEFAULT_TOLERANCE,
    Masks,
    combine_masks,
    current_masks,
    prunable_weights,
    weight_name,
)
from robustprune.pruning.sample import Sample
from robustprune.pruning.structure import ChannelStructure, channel_structure, example_input

WEIGHT_ALLOCATIONS = ("global", "layer")
"""``WeightScorePruner.allocation``: one threshold network-wide, or one removed fraction per layer."""
CHANNEL_ALLOCATIONS = ("uniform", "global")
"""``ChannelScorePruner.allocation``: one keep fraction per layer (as FT), or one ranking
network-wide."""
CHANNEL_UNITS = ("filter", "channel")
"""``ChannelScorePruner.unit``: output filters (weight rows) or input channels (weight columns)."""


class ScoreError(ValueError):
    """A score-based pruner's ``scores`` returned something the harness cannot rank."""


class WeightScorePruner(Pruner):
    """A pruner that only scores weight entries: subclasses set ``name``, ``data_informed`` and
    ``allocation`` and define ``scores``; the lowest-scoring entries are removed."""

    structured = False
    allocation: ClassVar[str] = "global"
    """``"global"``: one threshold over every scored entry of the network (as WT);
    ``"layer"``: every scored layer loses the same fraction of its entries."""

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        """A score per entry (higher = more important) by qualified weight name of prunable
        layers (``"layer1.0.conv1.weight"``), each of that weight's shape; layers left out are
        not pruned. ``model`` must not be changed."""
        raise NotImplementedError(f"pruner {type(self).__name__} does not implement scores()")

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        allocation = _choice(self, "allocation", WEIGHT_ALLOCATIONS)
        weights = prunable_weights(model)
        scores = _checked_scores(self, self.scores(model, sample), {
            name: tuple(weight.shape) for name, weight in weights.items()
        })  # fmt: skip
        if allocation == "global":
            return fit_live_threshold(model, scores, sample, prune_ratio)
        ranking = LayerFractions(model, scores)
        closure = structural_closure(model, sample)
        return fit_live(
            lambda fraction: closure(ranking.masks(fraction)), DeadStructure(model, sample).remove,
            ratio_meter(model), 0.0, 1.0, prune_ratio,
        )  # fmt: skip


class ChannelScorePruner(Pruner):
    """A structured pruner that only scores units: subclasses set ``name``, ``data_informed``,
    ``allocation`` and ``unit`` and define ``scores``; the lowest-scoring units are removed."""

    structured = True
    allocation: ClassVar[str] = "uniform"
    """``"uniform"``: every scored layer keeps the same fraction of its live units (as FT);
    ``"global"``: one ranking over the units of every scored layer."""
    unit: ClassVar[str] = "filter"
    """``"filter"``: output filters (the network's output layers are never scored); ``"channel"``:
    input channels (for a Linear after a flatten, one channel is all the columns it feeds)."""

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        """A 1-D score per unit (higher = more important) by qualified weight name of prunable
        layers; layers left out, and output layers' filters, are not scored. ``model`` must not
        be changed."""
        raise NotImplementedError(f"pruner {type(self).__name__} does not implement scores()")

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        allocation = _choice(self, "allocation", CHANNEL_ALLOCATIONS)
        unit = _choice(self, "unit", CHANNEL_UNITS)
        structure = channel_structure(model, example_input(sample, self.name))
        units = UnitShapes(structure, unit)
        scores = _checked_scores(self, self.scores(model, sample), units.shapes(), units.unscored)
        ranking = UnitRanking(model, units, scores, allocation)
        remove_dead = DeadStructure(model, sample, structure).remove
        achieved = ratio_meter(model)
        masks = fit_live(
            ranking.masks,
            remove_dead,
            achieved,
            0,
            len(ranking.events),
            prune_ratio,
            integer=True,
            tolerance=STRUCTURED_TOLERANCE,
        )
        if abs(achieved(masks) - prune_ratio) <= DEFAULT_TOLERANCE:
            return masks
        return one_unit_elsewhere(ranking, remove_dead, achieved, prune_ratio) or masks


def _choice(pruner: Pruner, attribute: str, choices: tuple[str, ...]) -> str:
    value = getattr(pruner, attribute)
    if value not in choices:
        raise ValueError(
            f"pruner {pruner.name!r}: {attribute} {value!r} is not valid; "
            f"valid: {', '.join(map(repr, choices))}"
        )
    return value


def _checked_scores(
    pruner: Pruner,
    scores: object,
    shapes: dict[str, tuple[int, ...]],
    ignored: frozenset[str] = frozenset(),
) -> dict[str, Tensor]:
    """``scores`` of the weights in ``shapes`` (in that order) as float64, those of ``ignored``
    weights dropped, or a ScoreError naming the pruner, the weight and the problem."""

    def fail(problem: str) -> ScoreError:
        return ScoreError(f"pruner {pruner.name!r}: scores() {problem}")

    if not isinstance(scores, dict):
        raise fail(f"must return a dict of weight name -> tensor, got {type(scores).__name__}")
    unknown = [name for name in scores if name not in shapes and name not in ignored]
    if unknown:
        raise fail(
            f"returned {unknown[0]!r}, which is not a prunable layer's weight; valid names: "
            f"{', '.join(shapes)}"
        )
    checked = {}
    for name, shape in shapes.items():
        if name not in scores:
            continue
        score = scores[name]
        if not isinstance(score, Tensor):
            raise fail(f"returned a {type(score).__name__} for {name!r}, expected a tensor")
        if tuple(score.shape) != shape:
            raise fail(f"returned shape {tuple(score.shape)} for {name!r}, expected {shape}")
        score = score.detach().to(torch.float64)
        if not bool(torch.isfinite(score).all()):
            raise fail(f"returned a score that is NaN or infinite for {name!r}")
        checked[name] = score
    if not checked:
        raise fail("scored no prunable layer")
    return checked


class LayerFractions:
    """Masks removing the same fraction of every scored weight, lowest scores first; entries
    already zero go first and each weight keeps its best entry."""

    def __init__(self, model: nn.Module, scores: dict[str, Tensor]) -> None:
        weights = prunable_weights(model)
        self.nonzero = {name: weights[name].detach() != 0 for name in scores}
        self.orders = {
            name: removal_order(score.flatten(), ~self.nonzero[name].flatten())
            for name, score in scores.items()
        }

    def masks(self, fraction: float) -> Masks:
        """Each scored weight without its ``round(fraction * size)`` lowest entries."""
        masks = {}
        for name, order in self.orders.items():
            count = min(round(fraction * order.numel()), order.numel() - 1)
            keep = self.nonzero[name].flatten().clone()
            keep[order[:count]] = False
            masks[name] = keep.view(self.nonzero[name].shape)
        return masks


class UnitShapes:
    """The units a ``ChannelScorePruner`` scores on one network: per scorable layer, how many
    units it has and which are already entirely zero."""

    def __init__(self, structure: ChannelStructure, unit: str) -> None:
        self.structure = structure
        self.unit = unit
        self.layers = {
            weight_name(name): module
            for name, module in structure.modules.items()
            if unit == "channel" or name not in structure.output_layers
        }
        self.unscored = frozenset(
            weight_name(name) for name in structure.modules if weight_name(name) not in self.layers
        )
        """Output layers' weights when the unit is a filter: their scores are ignored."""
        self.factors = {
            weight_name(name): structure.input_factor(name) if unit == "channel" else 1
            for name in structure.modules
        }

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected score shape per weight name, in definition order."""
        return {name: (self._units(name).shape[0],) for name in self.layers}

    def _units(self, name: str) -> Tensor:
        """The weight as units x entries: rows for filters, column blocks for channels."""
        weight = self.layers[name].weight.detach()
        if self.unit == "filter":
            return weight.reshape(weight.shape[0], -1)
        columns = weight.transpose(0, 1).reshape(weight.shape[1], -1)
        return columns.reshape(weight.shape[1] // self.factors[name], -1)

    def zero(self, name: str) -> Tensor:
        """Which units of ``name`` are already entirely zero (removed by earlier steps)."""
        return ~self._units(name).ne(0).any(dim=1)

    def mask(self, name: str, keep: Tensor) -> Tensor:
        """The weight mask keeping the units where ``keep``."""
        weight = self.layers[name].weight
        if self.unit == "filter":
            return keep.view(-1, *([1] * (weight.dim() - 1))).expand_as(weight).clone()
        columns = keep.repeat_interleave(self.factors[name])
        return columns.view(1, -1, *([1] * (weight.dim() - 2))).expand_as(weight).clone()


class UnitRanking:
    """The order in which a ``ChannelScorePruner``'s units leave: ``events`` lists one layer
    name per removed live unit, and ``masks(k)`` removes the first ``k`` of them plus every
    unit already zero, then closes the masks over the channel groups."""

    def __init__(
        self, model: nn.Module, units: UnitShapes, scores: dict[str, Tensor], allocation: str
    ) -> None:
        self.units = units
        zero = {name: units.zero(name) for name in scores}
        self.zero_counts = {name: int(zero[name].sum()) for name in scores}
        self.orders = {name: removal_order(score, zero[name]) for name, score in scores.items()}
        live = {name: len(order) - self.zero_counts[name] for name, order in self.orders.items()}
        if allocation == "uniform":
            # as torchprune's FT: a layer with n live units keeps max(1, round(keep * n)) at keep
            # fraction ``keep``; units leave in order of the fraction at which their layer
            # loses its next one, so the knob moves one unit at a time
            ranked = sorted(
                (removal_fraction(removed, live[name]), index, name)
                for index, name in enumerate(self.orders)
                for removed in range(1, live[name])
            )
        else:
            ranked = sorted(
                (float(scores[name][self.orders[name][self.zero_counts[name] + position]]),
                 index, position, name)
                for index, name in enumerate(self.orders)
                for position in range(live[name] - 1)
            )  # fmt: skip
        self.events = [event[-1] for event in ranked]
        self.existing = current_masks(model)  # entries zeroed by earlier steps stay removed

    def masks(self, removed_events: float, extra: str | None = None) -> Masks:
        """Masks removing the first ``removed_events`` events and every zero unit (and, with
        ``extra``, the next unit of that layer too), propagated."""
        counts = dict(self.zero_counts)
        for name in self.events[: int(removed_events)]:
            counts[name] += 1
        if extra is not None:
            counts[extra] += 1
        masks = {}
        for name, order in self.orders.items():
            keep = torch.ones(len(order), dtype=torch.bool, device=order.device)
            keep[order[: counts[name]]] = False
            masks[name] = self.units.mask(name, keep)
        return self.units.structure.propagate(combine_masks(masks, self.existing))


ALTERNATIVE_LAYERS = 8
"""Layers whose next unit ``one_unit_elsewhere`` tries (those of the next events in order)."""


def one_unit_elsewhere(
    ranking: UnitRanking,
    remove_dead: Callable[[Masks, int], Masks],
    achieved: Callable[[Masks], float],
    target: float,
) -> Masks | None:
    """Masks within the contract's tolerance of ``target``, or None, for a step where no count
    of the ranking's events lands there: removing the next unit in order tips dead structure
    over a cliff (its cascade removes more than the tolerance). From the largest count still
    below the target (on live masks, at the fixed point), one unit of another layer goes
    instead of the next one, for each of the layers of the following events; the closest
    achieved ratio is taken. The masks stay structured and at most one unit per layer off the
    uniform or global order; steps that meet the target in order never get here."""

    def live(count: int, extra: str | None = None) -> Masks:
        return remove_dead(ranking.masks(count, extra), MAX_ROUNDS)

    below, above = 0, len(ranking.events)
    while above - below > 1:
        middle = (below + above) // 2
        if achieved(live(middle)) <= target:
            below = middle
        else:
            above = middle
    skipped = ranking.events[below] if below < len(ranking.events) else None
    tried, best, best_error = set(), None, math.inf
    for name in ranking.events[below + 1 :]:
        if len(tried) == ALTERNATIVE_LAYERS:
            break
        if name == skipped or name in tried:
            continue
        tried.add(name)
        masks = live(below, name)
        error = abs(achieved(masks) - target)
        if error < best_error:
            best, best_error = masks, error
    return best if best_error <= DEFAULT_TOLERANCE else None


def removal_fraction(removed: int, live: int) -> float:
    """The keep fraction below which a layer with ``live`` units loses its ``removed``-th one:
    round((1 - fraction) * live) drops to live - removed just above it."""
    return (removed - 0.5) / live


def removal_order(scores: Tensor, zero: Tensor) -> Tensor:
    """Indices by ascending score, units (or entries) marked ``zero`` first; ties by index."""
    keys = scores.detach().to(torch.float64).clone()
    keys[zero.to(keys.device)] = -math.inf
    return torch.sort(keys, stable=True).indices
