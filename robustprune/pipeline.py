"""Algorithm 1, the prune-retrain loop: a parent network in, a prune curve out.

Iterative mode (the paper's "cascade") prunes the current network to each target of an
increasing grid, recomputing scores on its current weights, retrains with the masks held at
zero and continues from it; one-shot mode starts every target from the parent. Each step's
weights and masks are cached under a key of everything that determines them, so an
interrupted run resumes where it stopped and another method never retrains the parent.
Around each ``prune`` call every random generator is seeded from the case, and a changed
network or (for a structured method) masks that are not whole units are refused
(robustprune.guard).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from robustprune.guard import check_structured, check_unchanged, prune_seed, seeded_generators
from robustprune.identity import builtin_digest, code_identity
from robustprune.machine import machine_key
from robustprune.phases import phase
from robustprune.pruning import (
    Masks,
    Pruner,
    apply_masks,
    default_registry,
    draw_sample,
    parameter_count,
    prune_ratio,
    validate_masks,
)
from robustprune.pruning import (
    sample_size as sample_size_rule,
)
from robustprune.pruning.masks import (
    InvalidMaskError,
    check_mask_structure,
    combine_masks,
    prunable_weights,
)
from robustprune.suite import MODES
from robustprune.train import ENGINE_VERSION, engine_digest, get_recipe, train

PIPELINE_VERSION = 2
"""Part of every step's cache key; bump when the loop changes what a step produces."""

_STATE, _MASK = "state.", "mask."


@dataclass
class CurvePoint:
    """One step of the curve: target and achieved prune ratio in [0, 1], the retrained masked
    network, its masks, and whether this run computed it (False: loaded from the store)."""

    target_ratio: float
    prune_ratio: float
    model: nn.Module
    masks: Masks
    computed: bool


def prune_curve(
    parent: nn.Module,
    data,
    pruner: Pruner | str,
    grid: list[float],
    retrain_recipe,
    seed: int,
    device: torch.device | str,
    store=None,
    parent_key: str = "",
    mode: str = "iterative",
    sample_size: int | None = None,
    progress: Callable[[str], None] | None = None,
    context: str = "",
    arguments: Mapping[str, Any] | None = None,
) -> list[CurvePoint]:
    """Prune ``parent`` to every ratio of ``grid`` (increasing, in [0, 1)) and retrain each step.

    ``store`` (an ArtifactStore) caches every step under (``parent_key``, the pruner's name and
    code identity, grid up to the step, recipe, mode, seed, sample size, the code of the loop
    and the engine, the machine class); ``parent`` is never modified.
    ``sample_size`` defaults to the paper's size rule (``sample_size``), capped by ``data.val``.
    ``context`` (e.g. ``"digits/resnet20/WT seed 0"``) prefixes the error of a diverged retrain.
    ``arguments`` are the keyword arguments the pruner was built with (a suite's
    ``[pruners.<label>]`` table); a pruner given by name is built with them. They are part of
    every step's key, so another value computes other steps.
    """

    if mode not in MODES:
        raise ValueError(f"prune_curve: unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    if any(not 0 <= r < 1 for r in grid) or list(grid) != sorted(set(grid)):
        raise ValueError(
            f"prune_curve: grid must be strictly increasing ratios in [0, 1), got {grid}"
        )
    if store is not None and not parent_key:
        raise ValueError("prune_curve: a store needs a parent_key naming the parent network")
    arguments = dict(arguments or {})
    if isinstance(pruner, str):
        pruner = default_registry().get(pruner)(**arguments)
    recipe = get_recipe(retrain_recipe) if isinstance(retrain_recipe, str) else retrain_recipe
    device = torch.device(device)
    parent = parent.to(device).eval()
    parent_count = parameter_count(parent)
    # Every method gets S: data-informed ones score with it, and all of them use it to trace
    # the channel groups and to find dead structure after each prune step (pruning/dead.py).
    input_shape = (data.in_channels, *data.input_size)
    size = sample_size or sample_size_rule(parent, input_shape, available=len(data.val))
    sample = draw_sample(data, size, seed, device)

    # what computed the steps: the loop, its sample and mask handling, the training engine,
    # and (below) the machine class
    code = {
        "pipeline": builtin_digest(__name__),
        "sample": builtin_digest(draw_sample.__module__),
        "masks": builtin_digest(combine_masks.__module__),
        "engine": engine_digest(),
    }
    machine = machine_key(device)
    points: list[CurvePoint] = []
    current, current_masks = parent, {}
    for step, target in enumerate(grid):
        if mode == "one-shot":
            current, current_masks = parent, {}
        start, start_masks = current, current_masks

        def build(
            start: nn.Module = start,
            start_masks: Masks = start_masks,
            target: float = target,
            step: int = step,
        ):
            model = copy.deepcopy(start)
            # every random generator seeded from the case; the copy must come back unchanged
            with seeded_generators(prune_seed(seed, step)), phase("prune step: prune call"):
                returned = pruner.prune(model, target, sample)
            check_unchanged(pruner.name, start.state_dict(), model)
            # validate what the pruner returned before combine_masks converts it to bool
            check_mask_structure(pruner.name, model, returned)
            if pruner.structured:
                check_structured(pruner.name, returned)
            masks = combine_masks(returned, start_masks)
            try:
                achieved = validate_masks(pruner.name, model, masks, target, parent_count)
            except InvalidMaskError as error:
                raise InvalidMaskError(
                    str(error) + why_off_target(pruner, model, returned, start_masks, parent_count)
                ) from None
            apply_masks(model, masks)
            if progress is not None:
                progress(
                    f"{pruner.name} {mode} step {step + 1}/{len(grid)}: pruned to {achieved:.4f}"
                )
            where = f"{context}: " if context else ""
            with phase("retraining"):
                train(
                    model, data, recipe, seed, device, masks=masks, progress=progress,
                    context=f"{where}{pruner.name} {mode} step {step + 1}/{len(grid)} "
                    f"(prune ratio {achieved:.4f}) retrain",
                )  # fmt: skip
            tensors = {_STATE + k: v for k, v in model.state_dict().items()}
            tensors.update({_MASK + k: v for k, v in masks.items()})
            return tensors, {"target_ratio": target, "prune_ratio": achieved}

        key_fields = {
            "parent": parent_key,
            "dataset": getattr(data, "name", ""),
            "pruner": pruner.name,
            "pruner_code": code_identity(type(pruner)),
            "grid": list(grid[: step + 1]) if mode == "iterative" else [target],
            "recipe": recipe.to_dict(),
            "mode": mode,
            "seed": seed,
            "sample_size": size,
            "pipeline": PIPELINE_VERSION,
            "engine": ENGINE_VERSION,
            "code": code,
            "machine": machine,
        }
        if arguments:  # a pruner built without arguments keeps the key it always had
            key_fields["arguments"] = arguments
        if store is not None:
            artifact = store.get_or_create("prune_step", key_fields, build)
            tensors, meta, computed = artifact.tensors, artifact.meta, artifact.computed
        else:
            (tensors, meta), computed = build(), True
        model = copy.deepcopy(parent)
        model.load_state_dict(
            {k[len(_STATE) :]: v for k, v in tensors.items() if k.startswith(_STATE)}
        )
        model.to(device).eval()
        masks = {k[len(_MASK) :]: v.to(device) for k, v in tensors.items() if k.startswith(_MASK)}
        achieved = prune_ratio(model, masks, parent_count)
        points.append(CurvePoint(target, achieved, model, masks, computed))
        current, current_masks = model, masks
        if progress is not None:
            progress(
                f"{pruner.name} step {step + 1}/{len(grid)} {'computed' if computed else 'loaded'}"
                f" at prune ratio {meta.get('prune_ratio', achieved):.4f}"
            )
    return points


def why_off_target(
    pruner: Pruner, model: nn.Module, returned: Masks, earlier: Masks, parent_count: int
) -> str:
    """What may explain masks off their target: earlier steps' removals the pruner did not keep
    (masks are combined, so they count), or the size of the whole units a structured pruner
    removes. Empty when neither applies."""
    hints = []
    if earlier:
        own = prune_ratio(model, combine_masks(returned), parent_count)
        combined = prune_ratio(model, combine_masks(returned, earlier), parent_count)
        if abs(combined - own) > 1e-9:
            hints.append(
                f"the masks were combined with the previous steps' (entries removed earlier "
                f"stay removed): the pruner's own masks reach {own:.4f}, combined {combined:.4f}; "
                "keep earlier removals removed (nested masks)"
            )
    if pruner.structured:
        smallest = min(
            weight[0].numel() for weight in prunable_weights(model).values() if weight.dim() > 1
        )
        hints.append(
            f"a structured pruner removes whole filters; this network's smallest is "
            f"{100 * smallest / parent_count:.2f} % of its parameters, so ratios between "
            "reachable ones may be further apart than the tolerance"
        )
    return "".join(f"; {hint}" for hint in hints)
