"""Around ``prune``: generators seeded from the case, the network unchanged, structure checked."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from tiny import tiny_data
from torch import nn

from robustprune.guard import (
    PrunerChangedModelError,
    UnstructuredMaskError,
    check_structured,
    prune_seed,
    seeded_generators,
)
from robustprune.models import create
from robustprune.pipeline import prune_curve
from robustprune.pruning import Pruner, default_registry
from robustprune.recipes import Recipe

NO_TRAINING = Recipe("no-training", epochs=0, batch_size=32, lr=0.05, weight_decay=0.0)


def tiny_parent() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4),
    )  # fmt: skip


def curve(pruner, grid=(0.5,), seed=0):
    return prune_curve(
        tiny_parent(), tiny_data(), pruner, list(grid), NO_TRAINING, seed, "cpu", sample_size=8
    )


def wt_masks(model, prune_ratio, sample):
    return default_registry().create("WT").prune(model, prune_ratio, sample)


class GlobalRandom(Pruner):
    """WT with scores perturbed by all three global generators."""

    name, structured, data_informed = "GlobalRandom", False, False
    drawn: list[tuple[float, float, float]] = []

    def prune(self, model, prune_ratio, sample):
        draws = (float(torch.rand(())), float(np.random.rand()), random.random())
        GlobalRandom.drawn.append(draws)
        return wt_masks(model, prune_ratio, sample)


def test_prune_sees_generators_seeded_from_the_case_whatever_ran_before() -> None:
    GlobalRandom.drawn.clear()
    for noise in (1, 2):  # whatever the process did before (a parent trained or loaded, ...)
        torch.manual_seed(noise), np.random.seed(noise), random.seed(noise)
        curve(GlobalRandom(), grid=(0.3, 0.5))
    first_run, second_run = GlobalRandom.drawn[:2], GlobalRandom.drawn[2:]
    assert first_run == second_run
    assert first_run[0] != first_run[1]  # seed + step: each step its own stream
    curve(GlobalRandom(), grid=(0.3,), seed=1)
    assert GlobalRandom.drawn[-1] != first_run[0]  # another seed, another stream
    assert prune_seed(0, 1) != prune_seed(1, 0)


def test_generators_are_restored_after_prune() -> None:
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    expected = (torch.rand(3), np.random.rand(), random.random())
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    with seeded_generators(prune_seed(0, 0)):
        torch.rand(5), np.random.rand(5), random.random()
    assert torch.equal(torch.rand(3), expected[0])
    assert (np.random.rand(), random.random()) == expected[1:]


class Overwrites(Pruner):
    name, structured, data_informed = "Overwrites", False, False

    def prune(self, model, prune_ratio, sample):
        with torch.no_grad():
            model[0].weight.mul_(2)
        return wt_masks(model, prune_ratio, sample)


class AddsParameter(Pruner):
    name, structured, data_informed = "AddsParameter", False, False

    def prune(self, model, prune_ratio, sample):
        model.register_parameter("extra", nn.Parameter(torch.zeros(1)))
        return wt_masks(model, prune_ratio, sample)


def test_a_pruner_that_changes_the_network_is_refused_naming_it_and_the_tensor() -> None:
    with pytest.raises(
        PrunerChangedModelError,
        match=r"pruner 'Overwrites' modified the network it was given \(changed '0.weight'\)",
    ):
        curve(Overwrites())
    with pytest.raises(PrunerChangedModelError, match=r"'AddsParameter'.*\(added 'extra'\)"):
        curve(AddsParameter())


def test_nan_in_the_given_network_is_not_a_change() -> None:
    parent = tiny_parent()
    with torch.no_grad():
        parent[7].bias[1] = float("nan")  # a diverged parent: caught by training, not here
    prune_curve(parent, tiny_data(), "WT", [0.5], NO_TRAINING, 0, "cpu", sample_size=8)


class ClaimsStructure(Pruner):
    """WT's weight-level masks under a structured label."""

    name, structured, data_informed = "ClaimsStructure", True, False

    def prune(self, model, prune_ratio, sample):
        return wt_masks(model, prune_ratio, sample)


def test_a_structured_pruner_returning_unstructured_masks_is_named() -> None:
    with pytest.raises(
        UnstructuredMaskError,
        match=r"pruner 'ClaimsStructure' declares structured = True, but its mask for '0.weight'",
    ):
        curve(ClaimsStructure())


@pytest.mark.parametrize("method", ["FT", "PFP"])
def test_the_structured_built_ins_pass_the_check(method: str) -> None:
    torch.manual_seed(0)
    parent = create("resnet8", num_classes=4, in_channels=1, input_size=6)
    points = prune_curve(
        parent, tiny_data(), method, [0.3, 0.6], NO_TRAINING, 0, "cpu", sample_size=8
    )
    for point in points:
        check_structured(method, point.masks)
    assert [round(p.prune_ratio, 2) for p in points] == [0.3, 0.6]


def test_exactly_structured_means_kept_filter_and_kept_channel() -> None:
    keep = torch.ones(4, 3, 3, 3, dtype=torch.bool)
    keep[1] = False  # a whole output filter
    keep[:, 2] = False  # a whole input channel
    check_structured("P", {"w": keep, "b": torch.tensor([True, False, True, True])})
    partly = keep.clone()
    partly[0, 0, 0, 0] = False
    with pytest.raises(UnstructuredMaskError, match="keeps 8 of 9 entries of output filter 0"):
        check_structured("P", {"w": partly})
    stray = keep.clone()
    stray[0, 0] = False  # channel 0 removed from filter 0 only
    with pytest.raises(
        UnstructuredMaskError, match="removes input channel 0 from output filter 0 only"
    ):
        check_structured("P", {"w": stray})
    linear = torch.tensor([[True, False], [False, True]])
    with pytest.raises(UnstructuredMaskError, match="'fc.weight'"):
        check_structured("P", {"fc.weight": linear})
