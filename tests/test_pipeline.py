"""The prune-retrain loop: ratios met, masks nested and enforced, steps cached and resumed."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_data
from torch import nn

from robustprune.cache import ArtifactStore
from robustprune.pipeline import prune_curve
from robustprune.pruning import InvalidMaskError, parameter_count
from robustprune.pruning.masks import check_mask_structure
from robustprune.recipes import Recipe
from robustprune.suite import geometric_grid

RECIPE = Recipe("pipeline-test", epochs=1, batch_size=32, lr=0.05, weight_decay=0.0)


def tiny_parent() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )


def test_geometric_grid_is_geometric_in_keep_ratio():
    grid = geometric_grid(16, 0.2, 0.97)
    assert len(grid) == 16 and grid[0] == pytest.approx(0.2) and grid[-1] == pytest.approx(0.97)
    keep = [1 - r for r in grid]
    steps = [b / a for a, b in zip(keep, keep[1:], strict=False)]
    assert max(steps) == pytest.approx(min(steps))
    assert geometric_grid(4, 0.5, 0.9) == pytest.approx(
        [0.5, 1 - 0.5 * 0.2 ** (1 / 3), 1 - 0.5 * 0.2 ** (2 / 3), 0.9]
    )


@pytest.mark.parametrize("method", ["WT", "SiPP"])
def test_iterative_curve_meets_ratios_keeps_masks_and_caches(tmp_path, method):
    parent, data = tiny_parent(), tiny_data()
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    store = ArtifactStore(tmp_path)
    grid = [0.3, 0.6, 0.8]
    curve = prune_curve(
        parent,
        data,
        method,
        grid,
        RECIPE,
        seed=0,
        device="cpu",
        store=store,
        parent_key="tiny-parent",
        sample_size=16,
    )
    assert [p.target_ratio for p in curve] == grid and all(p.computed for p in curve)
    for point, previous in zip(curve, [None, *curve], strict=False):
        assert point.prune_ratio == pytest.approx(point.target_ratio, abs=0.005)
        parameters = dict(point.model.named_parameters())
        for name, mask in point.masks.items():
            assert not parameters[name][~mask].any(), (
                f"{name} has nonzero pruned weights after retraining"
            )
            if previous is not None:
                assert not (mask & ~previous.masks[name]).any(), f"{name} regrew"
    assert all(
        torch.equal(v, parent.state_dict()[k]) for k, v in before.items()
    )  # parent untouched
    again = prune_curve(
        parent,
        data,
        method,
        grid,
        RECIPE,
        seed=0,
        device="cpu",
        store=store,
        parent_key="tiny-parent",
        sample_size=16,
    )
    assert not any(p.computed for p in again)
    for first, second in zip(curve, again, strict=True):
        for (name, a), b in zip(
            first.model.state_dict().items(), second.model.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b), name


def test_interrupted_run_resumes_and_other_settings_do_not_collide(tmp_path):
    parent, data, store = tiny_parent(), tiny_data(), ArtifactStore(tmp_path)
    prune_curve(parent, data, "WT", [0.3, 0.5], RECIPE, 0, "cpu", store, parent_key="p")
    resumed = prune_curve(
        parent, data, "WT", [0.3, 0.5, 0.7], RECIPE, 0, "cpu", store, parent_key="p"
    )
    assert [p.computed for p in resumed] == [False, False, True]
    other_seed = prune_curve(parent, data, "WT", [0.3], RECIPE, 1, "cpu", store, parent_key="p")
    other_method = prune_curve(parent, data, "SiPP", [0.3], RECIPE, 0, "cpu", store, parent_key="p")
    assert other_seed[0].computed and other_method[0].computed


def test_one_shot_starts_every_ratio_from_the_parent(tmp_path):
    parent, data = tiny_parent(), tiny_data()
    no_training = Recipe("no-training", epochs=0, batch_size=32, lr=0.05, weight_decay=0.0)
    one_shot = prune_curve(parent, data, "WT", [0.4, 0.7], no_training, 0, "cpu", mode="one-shot")
    direct = prune_curve(parent, data, "WT", [0.7], no_training, 0, "cpu")
    for name, mask in direct[0].masks.items():
        assert torch.equal(one_shot[1].masks[name], mask)
    assert one_shot[1].prune_ratio == pytest.approx(0.7, abs=0.005)
    assert parameter_count(one_shot[1].model) == parameter_count(parent)


def test_bad_arguments_are_named():
    with pytest.raises(
        ValueError, match="unknown mode 'cascade'; valid modes: iterative, one-shot"
    ):
        prune_curve(tiny_parent(), tiny_data(), "WT", [0.5], RECIPE, 0, "cpu", mode="cascade")
    with pytest.raises(ValueError, match="strictly increasing"):
        prune_curve(tiny_parent(), tiny_data(), "WT", [0.5, 0.3], RECIPE, 0, "cpu")


class _Returns:
    """A pruner returning whatever ``make(wt_masks)`` builds from WT's valid masks."""

    structured = False
    data_informed = False

    def __init__(self, name, make):
        self.name, self.make = name, make

    def prune(self, model, prune_ratio, sample):
        from robustprune.pruning import default_registry

        return self.make(default_registry().create("WT").prune(model, prune_ratio, sample))


def _with_nan(masks):
    masks = {name: mask.float() for name, mask in masks.items()}
    masks["7.weight"][0, 0] = float("nan")
    return masks


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda masks: list(masks.values()), "expected a dict of parameter name.*got list"),
        (
            lambda masks: {name: mask.float() for name, mask in masks.items()},
            r"mask for '0\.weight' has dtype torch\.float32, expected torch\.bool",
        ),
        (_with_nan, r"mask for '0\.weight' has dtype torch\.float32"),
        (
            lambda masks: {**masks, "7.weight": masks["7.weight"].float()},
            r"mask for '7\.weight' has dtype torch\.float32, expected torch\.bool",
        ),
        (
            lambda masks: {**masks, "7.weight": masks["7.weight"].to(torch.uint8)},
            r"mask for '7\.weight' has dtype torch\.uint8",
        ),
        (
            lambda masks: {**masks, "7.weight": masks["7.weight"].t()},
            r"mask for '7\.weight' has shape \(32, 4\), parameter has shape \(4, 32\)",
        ),
    ],
)
def test_pruner_output_is_validated_as_returned(make, message):
    no_training = Recipe("no-training", epochs=0, batch_size=32, lr=0.05, weight_decay=0.0)
    pruner = _Returns("Odd", make)
    with pytest.raises(InvalidMaskError, match=message) as error:
        prune_curve(tiny_parent(), tiny_data(), pruner, [0.3], no_training, 0, "cpu")
    assert "pruner 'Odd'" in str(error.value)


def test_nan_in_a_float_mask_is_named():
    model = tiny_parent()
    masks = {"7.weight": torch.full((4, 32), float("nan"))}
    with pytest.raises(
        InvalidMaskError, match=r"'7\.weight' has dtype torch\.float32 and contains NaN"
    ):
        check_mask_structure("Odd", model, masks)


class _RandomEachStep:
    """Removes a fresh random set at every step: its masks are not nested."""

    name, structured, data_informed = "NotNested", False, False

    def prune(self, model, prune_ratio, sample):
        from robustprune.pruning import prunable_weights

        generator = torch.Generator().manual_seed(int(prune_ratio * 1000))
        weights = prunable_weights(model)
        flat = torch.cat([w.detach().flatten() for w in weights.values()])
        keep = torch.ones_like(flat, dtype=torch.bool)
        order = torch.randperm(flat.numel(), generator=generator)
        keep[order[: round(prune_ratio * parameter_count(model))]] = False
        masks, start = {}, 0
        for name, weight in weights.items():
            masks[name] = keep[start : start + weight.numel()].view(weight.shape)
            start += weight.numel()
        return masks


class _KeepsEverything:
    """A structured pruner that removes nothing, whatever the target."""

    name, structured, data_informed = "Lazy", True, False

    def prune(self, model, prune_ratio, sample):
        return {}


def test_masks_off_target_after_combining_say_the_earlier_steps_count():
    no_training = Recipe("no-training", epochs=0, batch_size=32, lr=0.05, weight_decay=0.0)
    with pytest.raises(InvalidMaskError) as error:
        prune_curve(
            tiny_parent(), tiny_data(), _RandomEachStep(), [0.3, 0.5], no_training, 0, "cpu"
        )
    message = str(error.value)
    assert "pruner 'NotNested'" in message
    assert "combined with the previous steps'" in message
    assert "the pruner's own masks reach 0.5" in message


def test_a_structured_pruner_off_target_is_told_its_unit_size():
    no_training = Recipe("no-training", epochs=0, batch_size=32, lr=0.05, weight_decay=0.0)
    with pytest.raises(InvalidMaskError, match="off the target") as error:
        prune_curve(tiny_parent(), tiny_data(), _KeepsEverything(), [0.3], no_training, 0, "cpu")
    assert "a structured pruner removes whole filters; this network's smallest is" in str(
        error.value
    )
