"""Keep-masks: which parameters are prunable, how big a masked network is, and mask validation.

The prune ratio is the paper's: ``1 - kept / numel(all parameters of the parent)``, where every
parameter counts (BN scale/shift and biases included) and an entry counts as kept unless a
mask removes it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

Masks = dict[str, Tensor]
"""Keep-masks (True = keep) by qualified parameter name: what every pruner returns."""

DEFAULT_TOLERANCE = 0.005
"""Largest accepted gap between achieved and target prune ratio (0.5 percentage points)."""


class InvalidMaskError(ValueError):
    """A pruner returned masks that break the contract; the message names the pruner and why."""


def is_prunable(module: nn.Module) -> bool:
    """Conv2d with ``groups == 1`` and Linear layers are what the four methods prune."""
    if isinstance(module, nn.Conv2d):
        return module.groups == 1
    return isinstance(module, nn.Linear)


def prunable_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Prunable layers by qualified module name, in definition order."""
    return {name: module for name, module in model.named_modules() if is_prunable(module)}


def weight_name(module_name: str) -> str:
    """Qualified name of a module's weight parameter (``"fc"`` -> ``"fc.weight"``)."""
    return f"{module_name}.weight" if module_name else "weight"


def prunable_weights(model: nn.Module) -> dict[str, Tensor]:
    """The weights the methods score, by qualified parameter name (``"layer1.0.conv1.weight"``)."""
    return {weight_name(name): module.weight for name, module in prunable_modules(model).items()}


def parameter_count(model: nn.Module) -> int:
    """Number of scalar parameters of ``model`` (all of them, BN and biases included)."""
    return sum(parameter.numel() for parameter in model.parameters())


def kept_count(model: nn.Module, masks: Masks) -> int:
    """Parameters that survive ``masks``: True entries of masked parameters plus all unmasked ones."""
    total = 0
    for name, parameter in model.named_parameters():
        mask = masks.get(name)
        total += parameter.numel() if mask is None else int(mask.sum())
    return total


def kept_entries(masks: Masks) -> int:
    """True entries across all masks (the mask fixed-point loops stop when this stops moving)."""
    return sum(int(mask.sum()) for mask in masks.values())


def prune_ratio(model: nn.Module, masks: Masks, parent_param_count: int) -> float:
    """Achieved prune ratio in [0, 1]: ``1 - kept_count(model, masks) / parent_param_count``."""
    if parent_param_count <= 0:
        raise ValueError(f"parent_param_count must be positive, got {parent_param_count}")
    return 1.0 - kept_count(model, masks) / parent_param_count


def current_masks(model: nn.Module) -> Masks:
    """Masks of the entries of prunable weights that are already exactly zero (earlier pruning)."""
    return {name: weight.detach() != 0 for name, weight in prunable_weights(model).items()}


def combine_masks(*masks: Masks) -> Masks:
    """Entry-wise AND of several mask dicts (a name missing from one dict means keep-all there)."""
    combined: Masks = {}
    for mask_dict in masks:
        for name, mask in mask_dict.items():
            mask = mask.to(torch.bool)
            combined[name] = (
                combined[name] & mask.to(combined[name].device) if name in combined else mask
            )
    return combined


def apply_masks(model: nn.Module, masks: Masks) -> nn.Module:
    """Zero every masked-out entry of ``model``'s parameters in place; returns ``model``."""
    parameters = dict(model.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            parameter = parameters[name]
            parameter.mul_(mask.to(device=parameter.device, dtype=parameter.dtype))
    return model


def check_mask_structure(pruner_name: str, model: nn.Module, masks: object) -> Masks:
    """Check a pruner's output exactly as returned, before anything converts it; returns it.

    Raises InvalidMaskError naming the pruner and the parameter for: a non-dict, a name that
    is not a parameter of ``model``, a value that is not a tensor, a dtype other than
    ``torch.bool`` (float masks, and so masks holding NaN, included), or a shape mismatch.
    """

    def fail(problem: str) -> InvalidMaskError:
        return InvalidMaskError(f"pruner {pruner_name!r} returned invalid masks: {problem}")

    if not isinstance(masks, dict):
        raise fail(
            f"expected a dict of parameter name -> torch.bool tensor, got {type(masks).__name__}"
        )
    parameters = dict(model.named_parameters())
    unknown = sorted((name for name in masks if name not in parameters), key=repr)
    if unknown:
        shown = ", ".join(repr(name) for name in unknown[:5])
        raise fail(
            f"unknown parameter name(s) {shown}{' ...' if len(unknown) > 5 else ''}; "
            f"valid names are model.named_parameters(), e.g. {next(iter(parameters), '')!r}"
        )
    for name, mask in masks.items():
        if not isinstance(mask, Tensor):
            raise fail(
                f"mask for {name!r} is a {type(mask).__name__}, expected a torch.bool tensor"
            )
        if mask.dtype != torch.bool:
            nan = (
                " and contains NaN" if mask.is_floating_point() and bool(mask.isnan().any()) else ""
            )
            raise fail(
                f"mask for {name!r} has dtype {mask.dtype}{nan}, expected torch.bool (True = keep)"
            )
        if tuple(mask.shape) != tuple(parameters[name].shape):
            raise fail(
                f"mask for {name!r} has shape {tuple(mask.shape)}, "
                f"parameter has shape {tuple(parameters[name].shape)}"
            )
    return masks


def validate_masks(
    pruner_name: str,
    model: nn.Module,
    masks: Masks,
    target_ratio: float,
    parent_param_count: int,
    tolerance: float = DEFAULT_TOLERANCE,
) -> float:
    """Check ``masks`` against the contract and return the achieved prune ratio.

    Raises InvalidMaskError naming the pruner for: everything :func:`check_mask_structure`
    checks, achieved ratio more than ``tolerance`` away from ``target_ratio``, or a prunable
    layer whose weight is entirely removed.
    """

    def fail(problem: str) -> InvalidMaskError:
        return InvalidMaskError(f"pruner {pruner_name!r} returned invalid masks: {problem}")

    check_mask_structure(pruner_name, model, masks)
    for name in prunable_weights(model):
        if name in masks and not bool(masks[name].any()):
            raise fail(
                f"prunable layer weight {name!r} is entirely removed (at least one entry must stay)"
            )
    achieved = prune_ratio(model, masks, parent_param_count)
    if abs(achieved - target_ratio) > tolerance:
        raise fail(
            f"achieved prune ratio {achieved:.4f} is off the target {target_ratio:.4f} by "
            f"{abs(achieved - target_ratio) * 100:.2f} percentage points "
            f"(allowed: {tolerance * 100:.2f})"
        )
    return achieved


def global_threshold_masks(
    model: nn.Module, scores: dict[str, Tensor], target_ratio: float, parent_param_count: int
) -> Masks:
    """Unstructured masks removing the lowest-scoring weights network-wide to meet ``target_ratio``.

    Entries already zero in the model rank below every score (so earlier pruning stays pruned);
    each layer keeps its highest-scoring entry so no layer is emptied. Ties break by position.
    """
    return GlobalThreshold(model, scores).masks(target_ratio, parent_param_count)


class GlobalThreshold:
    """The ranking behind ``global_threshold_masks``, sorted once: a ratio search asks it for
    masks at many ratios without sorting again."""

    def __init__(self, model: nn.Module, scores: dict[str, Tensor]) -> None:
        weights = prunable_weights(model)
        self.names = list(scores)
        self.shapes = {name: scores[name].shape for name in self.names}
        flat = []
        for name in self.names:
            score = scores[name].detach().to(torch.float64).flatten().clone()
            score[weights[name].detach().flatten() == 0] = -math.inf  # below any score
            score[torch.argmax(score)] = float("inf")
            flat.append(score)
        everything = torch.cat(flat)
        self.order = torch.sort(everything, stable=True).indices
        self.parameters = parameter_count(model)

    def masks(self, target_ratio: float, parent_param_count: int) -> Masks:
        """Masks removing the lowest-ranked entries so the whole model meets ``target_ratio``."""
        to_remove = self.parameters - round((1.0 - target_ratio) * parent_param_count)
        to_remove = max(0, min(to_remove, self.order.numel() - len(self.names)))
        keep = torch.ones(self.order.numel(), dtype=torch.bool, device=self.order.device)
        keep[self.order[:to_remove]] = False
        masks: Masks = {}
        start = 0
        for name in self.names:
            count = self.shapes[name].numel()
            masks[name] = keep[start : start + count].view(self.shapes[name])
            start += count
        return masks
