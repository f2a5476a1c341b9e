"""Properties of every built-in method on random small models and ratios (hypothesis)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from robustprune.pruning import (
    apply_masks,
    default_registry,
    parameter_count,
    prune_ratio,
    validate_masks,
)
from robustprune.pruning.dead import DeadStructure

METHODS = ("WT", "SiPP", "FT", "PFP")
SETTINGS = settings(
    max_examples=5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def build(kind: str, width: int, seed: int) -> tuple[nn.Module, list]:
    """A random small net whose single filter is < 1% of its size (so 0.5 pp is reachable), and
    a sample set large enough that no unit is dead on it by chance (with 8 samples, 15 % of a
    hidden layer's weights have zero gradient on every sample and count as dead structure)."""
    torch.manual_seed(seed)
    if kind == "mlp":
        model = nn.Sequential(
            nn.Linear(12, width),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, 6),
        )
        inputs = torch.randn(64, 12)
    else:
        model = nn.Sequential(
            nn.Conv2d(3, width, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 1),
            nn.ReLU(),
            nn.Conv2d(width, width, 1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width, 6),
        )
        inputs = torch.randn(64, 3, 3, 3)
    return model.eval(), [(inputs, torch.zeros(64, dtype=torch.long))]


def dead_floor(model: nn.Module, sample: list) -> float:
    """The prune ratio of the random net's dead structure alone (dead.py): no method can ask for
    less, since what is dead on S always counts as removed."""
    masks = DeadStructure(model, sample).remove({})
    return prune_ratio(model, masks, parameter_count(model))


models = st.tuples(st.sampled_from(["mlp", "conv"]), st.integers(160, 220), st.integers(0, 10_000))


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(spec=models, ratio=st.floats(0.05, 0.9))
def test_masks_have_parameter_shapes_and_meet_the_ratio(spec, method, ratio):
    model, sample = build(*spec)
    ratio = max(ratio, dead_floor(model, sample) + 0.01)
    masks = default_registry().create(method).prune(model, ratio, sample)
    parameters = dict(model.named_parameters())
    assert masks and all(
        mask.dtype == torch.bool and mask.shape == parameters[name].shape
        for name, mask in masks.items()
    )
    achieved = validate_masks(method, model, masks, ratio, parameter_count(model))
    assert abs(achieved - ratio) <= 0.005


@pytest.mark.parametrize("method", METHODS)
@SETTINGS
@given(spec=models, ratios=st.lists(st.floats(0.05, 0.9), min_size=2, max_size=3, unique=True))
def test_iterative_masks_are_nested(spec, method, ratios):
    model, sample = build(*spec)
    parent_count = parameter_count(model)
    pruner = default_registry().create(method)
    previous: dict[str, torch.Tensor] = {}
    floor = dead_floor(model, sample) + 0.01
    for ratio in sorted({max(ratio, floor) for ratio in ratios}):
        masks = pruner.prune(model, ratio, sample)
        for name, mask in previous.items():
            current = masks.get(name, torch.ones_like(mask))
            assert not (current & ~mask).any(), f"{method}: {name} regrew pruned entries at {ratio}"
        assert abs(prune_ratio(model, masks, parent_count) - ratio) <= 0.005
        apply_masks(model, masks)
        previous = masks
