"""Score-based pruners: a few lines of scores meet the whole contract, because the harness does
the budget, nesting, dead structure, the no-empty-layer rule and channel groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_plugin_extensions import doc_block
from tiny import two_conv_net
from torch import nn
from torch.nn.utils import prune as torch_prune

from robustprune.guard import check_structured
from robustprune.models import create, list_models, model_info
from robustprune.pruning import (
    ChannelScorePruner,
    ScoreError,
    WeightScorePruner,
    apply_masks,
    channel_groups,
    parameter_count,
    prunable_weights,
    validate_masks,
)
from robustprune.pruning.filters import FilterThresholding
from robustprune.pruning.magnitude import WeightThresholding
from robustprune.pruning.masks import combine_masks
from robustprune.pruning.torch_methods import TorchL1Unstructured, TorchLnStructured

SLOW = {"resnet110", "vgg16_bn", "wrn16_8"}
PRUNING_DOC = Path(__file__).resolve().parent.parent / "docs" / "pruning.md"


class GlobalMagnitude(WeightScorePruner):
    """The issue's plugin: |w|, one threshold network-wide."""

    name, data_informed, allocation = "GlobalMagnitude", False, "global"

    def scores(self, model, sample):
        return {name: weight.detach().abs() for name, weight in prunable_weights(model).items()}


class RandomFilters(ChannelScorePruner):
    """Random filter scores ranked network-wide."""

    name, data_informed, allocation = "RandomFilters", False, "global"

    def scores(self, model, sample):
        generator = torch.Generator().manual_seed(0)
        return {
            name: torch.rand(weight.shape[0], generator=generator)
            for name, weight in prunable_weights(model).items()
        }


def cifar_archs() -> list:
    names = [
        name
        for name in list_models()
        if model_info(name).family not in {"imagenet", "segmentation"}
    ]
    return [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in names]


def sample_of(channels: int, size: int, count: int = 32) -> list:
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(count, channels, size, size, generator=generator)
    return [(images, torch.randint(0, 10, (count,), generator=generator))]


@pytest.mark.parametrize("pruner_class", [GlobalMagnitude, RandomFilters])
@pytest.mark.parametrize("arch", cifar_archs())
def test_a_ten_line_score_pruner_meets_the_contract_iteratively(arch, pruner_class) -> None:
    torch.manual_seed(0)
    model = create(arch, num_classes=10, in_channels=3, input_size=8).eval()
    sample = sample_of(3, 8)
    parent_count = parameter_count(model)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    pruner = pruner_class()
    previous: dict = {}
    for ratio in (0.5, 0.9):
        masks = pruner.prune(model, ratio, sample)
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        for name in prunable_weights(model):  # nested: no weight removed earlier comes back
            if name in previous:
                assert not bool((~previous[name] & masks.get(name, previous[name])).any()), name
        combined = combine_masks(masks, previous)
        achieved = validate_masks(pruner.name, model, combined, ratio, parent_count)
        assert achieved == pytest.approx(ratio, abs=0.005)
        if pruner.structured:
            check_structured(pruner.name, combined)
        apply_masks(model, combined)
        before = {name: value.clone() for name, value in model.state_dict().items()}
        previous = combined


def shrunk_layer_net() -> nn.Module:
    """A network whose second conv weight decay has shrunk below every other weight."""
    model = two_conv_net(in_channels=1, bias=False)
    with torch.no_grad():
        model[3].weight.mul_(1e-4)
    return model


def test_plain_global_magnitude_never_empties_a_layer_shrunk_by_weight_decay() -> None:
    model = shrunk_layer_net()
    parent_count = parameter_count(model)
    # the plugin's own global threshold would remove that whole layer ...
    weights = prunable_weights(model)
    everything = torch.cat([weight.detach().abs().flatten() for weight in weights.values()])
    threshold = everything.sort().values[round(0.9 * parent_count)]
    assert not bool((weights["3.weight"].detach().abs() >= threshold).any())
    # ... the harness keeps the layer alive and still meets the budget
    masks = GlobalMagnitude().prune(model, 0.9, sample_of(1, 8))
    validate_masks("GlobalMagnitude", model, masks, 0.9, parent_count)
    assert bool(masks["3.weight"].any())


def test_layer_allocation_removes_the_same_fraction_per_layer_as_torch_would() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 5)
    )
    pruner = TorchL1Unstructured()
    masks = pruner.prune(model, 0.5, [])  # no sample: no dead structure
    validate_masks(pruner.name, model, masks, 0.5, parameter_count(model))
    fractions = []
    for name, weight in prunable_weights(model).items():
        removed = int((~masks[name]).sum())
        fractions.append(removed / weight.numel())
        expected = torch_prune.L1Unstructured(amount=removed).compute_mask(
            weight.detach(), torch.ones_like(weight)
        )
        assert torch.equal(masks[name], expected.bool()), name
    assert max(fractions) - min(fractions) < 1 / 100  # one round() apart at most


def test_uniform_channel_allocation_keeps_the_same_fraction_of_filters() -> None:
    torch.manual_seed(0)
    model = create("resnet20", num_classes=10, in_channels=1, input_size=8).eval()
    pruner = TorchLnStructured()
    masks = pruner.prune(model, 0.5, sample_of(1, 8))
    check_structured(pruner.name, masks)
    layers = {name: mask.reshape(mask.shape[0], -1).any(dim=1) for name, mask in masks.items()}
    kept = [float(keep.float().mean()) for name, keep in layers.items() if name != "fc.weight"]
    assert max(kept) - min(kept) < 0.25  # one keep fraction, up to a filter or two per layer
    assert bool(layers["fc.weight"].all())  # the output layer's filters are the logits


class Scored(WeightScorePruner):
    name, data_informed = "Scored", False

    def __init__(self, scores) -> None:
        self.made = scores

    def scores(self, model, sample):
        return self.made(model)


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (lambda model: [], "must return a dict of weight name -> tensor, got list"),
        (
            lambda model: {"0.bias": torch.ones(3)},
            "'0.bias', which is not a prunable layer's weight; valid names: 0.weight, 2.weight",
        ),
        (
            lambda model: {"0.weight": torch.ones(3)},
            r"shape \(3,\) for '0.weight', expected \(3, 4\)",
        ),
        (
            lambda model: {"0.weight": torch.full((3, 4), torch.nan)},
            "NaN or infinite for '0.weight'",
        ),
        (lambda model: {}, "scored no prunable layer"),
    ],
)
def test_scores_that_cannot_be_ranked_are_refused_naming_the_problem(scores, message) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(ScoreError, match=f"pruner 'Scored': scores\\(\\) .*{message}"):
        Scored(scores).prune(model, 0.5, [])


def test_an_unknown_allocation_names_the_valid_ones() -> None:
    class Odd(GlobalMagnitude):
        allocation = "per-block"

    with pytest.raises(
        ValueError, match="allocation 'per-block' is not valid; valid: 'global', 'layer'"
    ):
        Odd().prune(nn.Sequential(nn.Linear(4, 3)), 0.5, [])


def test_wt_and_ft_are_score_pruners() -> None:
    """Their masks are those from before (tests/test_pruning_masks_frozen.py)."""
    assert issubclass(WeightThresholding, WeightScorePruner)
    assert issubclass(FilterThresholding, ChannelScorePruner)
    assert FilterThresholding.allocation == "uniform" and WeightThresholding.allocation == "global"


def test_channel_groups_say_which_parameter_slices_move_together() -> None:
    torch.manual_seed(0)
    model = create("resnet20", num_classes=10, in_channels=3, input_size=8).eval()
    groups = channel_groups(model, torch.randn(2, 3, 8, 8))
    parameters = dict(model.named_parameters())
    producers = [found.parameter for group in groups for found in group.role("producer")]
    weights = [name for name in producers if name.endswith(".weight")]
    assert sorted(weights) == sorted(prunable_weights(model))  # each layer in one group
    stream = next(group for group in groups if group.root == "conv1")  # stage 1's residual stream
    assert {"conv1.weight", "layer1.0.conv2.weight", "layer1.2.conv2.weight"} <= {
        found.parameter for found in stream.role("producer")
    }
    assert {"bn1.weight", "bn1.bias"} <= {found.parameter for found in stream.role("affine")}
    assert "layer1.0.conv1.weight" in {found.parameter for found in stream.role("consumer")}
    for group in groups:
        for found in group.slices:
            assert int(found.index.max()) < parameters[found.parameter].shape[found.dim]
            assert int(found.channel.max()) < group.width
    assert [group.reaches_output for group in groups].count(True) == 1  # the logits


def test_the_docs_score_based_pruners_meet_the_contract() -> None:
    namespace: dict = {}
    exec(doc_block("# score-based pruners in a few lines", PRUNING_DOC), namespace)
    for pruner_class in (namespace["GlobalMagnitude"], namespace["FilterL2"]):
        torch.manual_seed(0)
        model = create("resnet20", num_classes=10, in_channels=1, input_size=8).eval()
        parent_count, previous = parameter_count(model), {}
        for ratio in (0.5, 0.9):
            masks = combine_masks(pruner_class().prune(model, ratio, sample_of(1, 8)), previous)
            validate_masks(pruner_class.name, model, masks, ratio, parent_count)
            if pruner_class.structured:
                check_structured(pruner_class.name, masks)
            apply_masks(model, masks)
            previous = masks


def test_the_docs_channel_groups_example_prints_what_it_says(capsys) -> None:
    block = doc_block("# which parameter slices move together", PRUNING_DOC)
    lines = block.splitlines()
    said = [  # each print's output is its trailing comment, or the comment line under it
        line.split("  # ", 1)[1] if "  # " in line else lines[number + 1].removeprefix("# ")
        for number, line in enumerate(lines)
        if line.startswith("print(")
    ]
    exec(block, {})
    assert capsys.readouterr().out.splitlines() == said


class _CliffRanking:
    """A ranking of two layers' units, alternating a, b, a, b, ...; its "masks" are the removed
    counts per layer."""

    events = ["a", "b", "a", "b", "a", "b"]

    def masks(self, count: int, extra: str | None = None) -> dict:
        counts = {"a": 0, "b": 0}
        for name in self.events[:count]:
            counts[name] += 1
        if extra is not None:
            counts[extra] += 1
        return counts


def _cliff_ratio(counts: dict) -> float:
    """0.1 per removed unit, and a cascade of 0.15 more once layer a loses its second unit."""
    return 0.1 * (counts["a"] + counts["b"]) + (0.15 if counts["a"] >= 2 else 0.0)


def test_a_step_over_a_dead_structure_cliff_takes_one_unit_of_another_layer() -> None:
    from robustprune.pruning.scored import one_unit_elsewhere

    ranking = _CliffRanking()
    # in order: 0.0, 0.1, 0.2, then 0.45 (a's second unit tips the cascade): 0.3 is unreachable
    assert [_cliff_ratio(ranking.masks(k)) for k in range(4)] == pytest.approx(
        [0.0, 0.1, 0.2, 0.45]
    )
    found = one_unit_elsewhere(ranking, lambda masks, rounds: masks, _cliff_ratio, 0.3)
    assert found == {"a": 1, "b": 2}
    # nothing within the contract's tolerance: the caller keeps its masks and validation says why
    assert one_unit_elsewhere(ranking, lambda masks, rounds: masks, _cliff_ratio, 0.25) is None
