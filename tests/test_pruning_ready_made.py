"""Ready-made methods (Torch-Pruning's criteria, torch.nn.utils.prune's methods): each runs a
step on resnet20 within the contract, covers what the installed torch-pruning ships, is
deterministic under the harness's seeding and stays out of a suite's default method set."""

from __future__ import annotations

import importlib
import inspect

import pytest
import torch

from robustprune.guard import check_structured, prune_seed, seeded_generators
from robustprune.methods import BUILTIN_METHODS, READY_MADE_METHODS, default_methods
from robustprune.models import create
from robustprune.pruning import parameter_count, prunable_weights, validate_masks
from robustprune.pruning.tp_criteria import TORCH_PRUNING_CRITERIA
from robustprune.suite import load_suite

EXCLUDED_CRITERIA: dict[str, str] = {}
"""Importance classes of the installed torch-pruning left out, with the reason (docs/pruning.md)."""


def ready_made(name: str):
    module, _, attribute = READY_MADE_METHODS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def resnet20_and_sample():
    torch.manual_seed(0)
    model = create("resnet20", num_classes=10, in_channels=1, input_size=8).eval()
    generator = torch.Generator().manual_seed(1)
    sample = [
        (
            torch.randn(24, 1, 8, 8, generator=generator),
            torch.randint(0, 10, (24,), generator=generator),
        )
        for _ in range(2)
    ]
    return model, sample


@pytest.mark.parametrize("name", sorted(READY_MADE_METHODS))
def test_each_ready_made_method_runs_a_step_within_the_contract(name: str) -> None:
    model, sample = resnet20_and_sample()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    pruner = ready_made(name)()
    assert pruner.name == name
    with seeded_generators(prune_seed(0, 1)):
        masks = pruner.prune(model, 0.5, sample)
    achieved = validate_masks(name, model, masks, 0.5, parameter_count(model))
    assert achieved == pytest.approx(0.5, abs=0.005)
    if pruner.structured:
        check_structured(name, masks)  # exactly filter/channel structured
        assert set(masks) <= set(prunable_weights(model))  # never a bias or BN entry
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not any("_importance" in vars(module) for module in model.modules())


@pytest.mark.parametrize("name", ["tp:random", "torch:random_unstructured"])
def test_random_methods_follow_the_harness_seed(name: str) -> None:
    model, sample = resnet20_and_sample()
    pruner = ready_made(name)()

    def masks_at(step: int) -> dict:
        with seeded_generators(prune_seed(0, step)):
            return pruner.prune(model, 0.5, sample)

    first, again, other = masks_at(1), masks_at(1), masks_at(2)
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_data_driven_criteria_read_the_sample() -> None:
    model, sample = resnet20_and_sample()
    generator = torch.Generator().manual_seed(7)
    other = [(torch.randn_like(inputs), torch.randint(0, 10, targets.shape, generator=generator))
             for inputs, targets in sample]  # fmt: skip
    for cls in TORCH_PRUNING_CRITERIA:
        scores, changed = cls().scores(model, sample), cls().scores(model, other)
        moved = any(not torch.equal(scores[key], changed[key]) for key in scores)
        assert moved == (cls.data_informed or cls.name == "tp:random"), cls.name


def test_every_importance_criterion_of_the_installed_torch_pruning_is_ready_made() -> None:
    """Each Importance class is a ready-made method, an alias adding nothing to one, or left
    out with its reason."""
    importance = importlib.import_module("torch_pruning.pruner.importance")
    covered = {cls.criterion for cls in TORCH_PRUNING_CRITERIA}
    shipped = {
        name: found
        for name, found in vars(importance).items()
        if inspect.isclass(found)
        and issubclass(found, importance.Importance)
        and found is not importance.Importance
    }
    for name, found in shipped.items():
        own = {key for key in vars(found) if not key.startswith("_")}
        alias_of = found.__mro__[1].__name__ if not own else None
        assert name in covered or alias_of in covered or name in EXCLUDED_CRITERIA, name
    assert covered <= set(shipped)


def test_ready_made_methods_run_only_where_a_suite_names_them() -> None:
    registered = [*BUILTIN_METHODS, *READY_MADE_METHODS]
    assert load_suite("digits").method_names(registered) == ["FT", "PFP", "SiPP", "WT"]
    assert default_methods([*registered, "MyPlugin"]) == ["FT", "MyPlugin", "PFP", "SiPP", "WT"]
