"""Prune-ratio accounting and mask validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustprune.pruning import (
    InvalidMaskError,
    kept_count,
    parameter_count,
    prune_ratio,
    validate_masks,
)
from robustprune.pruning.masks import combine_masks, global_threshold_masks, prunable_weights


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(16, 3)
    )


def test_prune_ratio_counts_every_parameter():
    model = _model()
    total = 36 + 4 + 4 + 4 + 48 + 3
    assert parameter_count(model) == total
    masks = {"0.weight": torch.zeros(4, 1, 3, 3, dtype=torch.bool)}
    masks["0.weight"][0, 0, 0, 0] = True
    masks["1.bias"] = torch.tensor([True, False, False, True])
    assert kept_count(model, masks) == total - 35 - 2
    assert prune_ratio(model, masks, total) == pytest.approx(37 / total)


@pytest.mark.parametrize(
    ("masks", "message"),
    [
        ({"nope.weight": torch.ones(1, dtype=torch.bool)}, "unknown parameter name"),
        ({"4.weight": torch.ones(3, 16)}, "dtype torch.float32"),
        ({"4.weight": torch.ones(16, 3, dtype=torch.bool)}, r"shape \(16, 3\)"),
        ({"4.weight": torch.zeros(3, 16, dtype=torch.bool)}, "'4.weight' is entirely removed"),
        ({}, "achieved prune ratio 0.0000 is off the target 0.3000"),
    ],
)
def test_validation_names_pruner_and_violation(masks, message):
    model = _model()
    with pytest.raises(InvalidMaskError, match=message) as error:
        validate_masks("Mine", model, masks, 0.3, parameter_count(model))
    assert "pruner 'Mine'" in str(error.value)


def test_validation_accepts_within_half_a_point():
    model = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 10))
    total = parameter_count(model)
    masks = global_threshold_masks(
        model, {n: w.abs() for n, w in prunable_weights(model).items()}, 0.5, total
    )
    assert validate_masks("WT", model, masks, 0.5, total) == pytest.approx(0.5, abs=1 / total)
    achieved = prune_ratio(model, masks, total)
    assert validate_masks("WT", model, masks, achieved + 0.0049, total) == achieved
    with pytest.raises(InvalidMaskError, match="0.51 percentage points"):
        validate_masks("WT", model, masks, achieved + 0.0051, total)


def test_combine_masks_is_entrywise_and():
    a = {"x": torch.tensor([True, True, False])}
    b = {"x": torch.tensor([True, False, True]), "y": torch.tensor([False])}
    combined = combine_masks(a, b)
    assert combined["x"].tolist() == [True, False, False] and combined["y"].tolist() == [False]
