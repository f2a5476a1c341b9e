"""compact(): physically smaller networks that compute exactly what the masked network computes."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from robustprune.models import create, list_models
from robustprune.pruning import compact, default_registry, kept_count, parameter_count
from robustprune.pruning.masks import Masks, apply_masks, prunable_weights, weight_name
from robustprune.pruning.structure import CONSUMER, PRODUCER, channel_structure

LARGE = {"resnet18": 64, "resnet101": 64, "deeplabv3_resnet50": 64}
"""ImageNet-size and segmentation models, built at a small input (pixels); the rest at 16."""
SLOW = {"resnet101", "deeplabv3_resnet50", "resnet110", "vgg16_bn", "wrn16_8"}
TOLERANCE = 1e-5


def size_of(name: str) -> int:
    return LARGE.get(name, 16)


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` in eval mode with random BN scale, shift and statistics (so a zero-input
    channel comes out of a BN as a nonzero constant unless its scale and shift are masked)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                shape = module.num_features
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(shape, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
    return model.eval()


def build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    size = size_of(name)
    model = randomized(create(name, 10, 3, size), seed)
    return model, torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


def max_difference(masked: nn.Module, small: nn.Module, size: int, seed: int = 5) -> float:
    """Largest output difference on random inputs, in float64: random deep nets (resnet110)
    reach logits in the thousands, where float32 rounding alone differs by 1e-4."""
    inputs = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = copy.deepcopy(masked).double()(inputs.double())
        return float((expected - copy.deepcopy(small).double()(inputs.double())).abs().max())


def structured_masks(model: nn.Module, example: torch.Tensor, seed: int = 0) -> Masks:
    """Fully structured masks: about half the channels of every group that does not reach the
    output lose all their producer filters; propagation takes everything else along."""
    structure = channel_structure(model, example)
    generator = torch.Generator().manual_seed(seed)
    masks: Masks = {}
    for group in structure.groups:
        if group.reaches_output or group.width < 2:
            continue
        gone = torch.randperm(group.width, generator=generator)[: group.width // 2]
        dead = torch.zeros(group.width, dtype=torch.bool)
        dead[gone] = True
        for member in group.role(PRODUCER):
            name = weight_name(member.module)
            weight = dict(model.named_parameters())[name]
            mask = masks.setdefault(name, torch.ones_like(weight, dtype=torch.bool))
            mask[member.index[dead[member.channel]]] = False
    return structure.propagate(masks)


def per_channel_parameters_cut(model: nn.Module, masks: Masks, example: torch.Tensor) -> int:
    """Entries of biases and BN vectors (never masked) whose channel the masks leave unread or
    unproduced: what ``compact`` drops beyond the masked weights."""
    structure = channel_structure(model, example)
    modules = dict(model.named_modules())
    parameters = dict(model.named_parameters())
    cut = 0
    for group in structure.groups:
        if group.reaches_output:
            continue
        produced = torch.zeros(group.width, dtype=torch.bool)
        consumed = torch.zeros(group.width, dtype=torch.bool)
        for member in group.members:
            name = weight_name(member.module)
            mask = masks.get(name, torch.ones_like(parameters.get(name, example), dtype=torch.bool))
            if member.role == PRODUCER:
                produced[member.channel] |= mask.reshape(mask.shape[0], -1).any(1)[member.index]
            elif member.role == CONSUMER:
                columns = mask.transpose(0, 1).reshape(mask.shape[1], -1).any(1)
                consumed[member.channel] |= columns[member.index]
        dead = ~(produced & consumed)
        for member in group.members:
            if member.role == CONSUMER:
                continue
            for parameter in modules[member.module].parameters(recurse=False):
                if parameter.dim() == 1:
                    cut += int(dead[member.channel].sum())
    return cut


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
        for name in list_models()
    ],
)
def test_fully_structured_masks_compact_to_the_kept_parameter_count(name: str) -> None:
    model, example = build(name)
    masks = structured_masks(model, example)
    small = compact(model, masks, example)
    cut = per_channel_parameters_cut(model, masks, example)
    assert cut > 0  # BN and biases of removed channels are not masked, compact drops them
    assert parameter_count(small) == kept_count(model, masks) - cut < parameter_count(model)
    masked = apply_masks(copy.deepcopy(model), masks)
    assert max_difference(masked, small, size_of(name)) <= TOLERANCE
    assert parameter_count(model) == sum(p.numel() for p in model.parameters())  # not modified


STRUCTURED_CASES = [
    ("resnet20", "FT", 0.5),
    ("resnet20", "FT", 0.8),
    ("resnet20", "PFP", 0.5),
    ("resnet20", "PFP", 0.8),
    ("densenet22", "FT", 0.8),
    ("densenet22", "PFP", 0.8),
    pytest.param("densenet22", "FT", 0.5, marks=pytest.mark.slow),
    pytest.param("wrn16_2", "FT", 0.8, marks=pytest.mark.slow),
    pytest.param("wrn16_2", "PFP", 0.5, marks=pytest.mark.slow),
    pytest.param("vgg11_bn_slim", "FT", 0.5, marks=pytest.mark.slow),
    pytest.param("vgg11_bn_slim", "PFP", 0.8, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "method", "ratio"), STRUCTURED_CASES)
def test_structured_methods_compact_to_the_same_function(name: str, method: str, ratio: float):
    torch.manual_seed(0)
    model = randomized(create(name, 10, 3, 32))
    sample = [(torch.randn(64, 3, 32, 32), torch.zeros(64, dtype=torch.long))]
    masks = default_registry().create(method).prune(model, ratio, sample)
    small = compact(model, masks, sample[0][0][:2])
    masked = apply_masks(copy.deepcopy(model), masks)
    assert max_difference(masked, small, 32) <= TOLERANCE
    # smaller, and nothing the masked network still uses was cut: every nonzero weight stays
    # (BN and biases of removed channels are not masked: they count as kept, compact drops them)
    assert parameter_count(small) < parameter_count(model)
    assert nonzero_weights(small) == nonzero_weights(masked)


def count_nonzero(model: nn.Module) -> int:
    return sum(int(parameter.ne(0).sum()) for parameter in model.parameters())


def nonzero_weights(model: nn.Module) -> int:
    return sum(int(weight.ne(0).sum()) for weight in prunable_weights(model).values())


def chain(width: int = 16) -> nn.Sequential:
    torch.manual_seed(0)
    return randomized(
        nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width, 10),
        )
    )


@pytest.mark.parametrize("method", ["FT", "PFP"])
def test_structured_methods_on_a_chain_compact_to_exactly_the_kept_count(method: str) -> None:
    model = chain()
    sample = [(torch.randn(64, 3, 8, 8), torch.zeros(64, dtype=torch.long))]
    masks = default_registry().create(method).prune(model, 0.5, sample)
    small = compact(model, masks, sample[0][0][:2])
    removed = [int((~masks[f"{n}.weight"].reshape(16, -1).any(1)).sum()) for n in ("0", "3")]
    # each removed filter's bias and BN scale and shift count as kept; compact drops them
    assert parameter_count(small) == kept_count(model, masks) - 3 * sum(removed)
    assert small[0].out_channels < 16 and small[3].in_channels == small[0].out_channels
    assert max_difference(apply_masks(copy.deepcopy(model), masks), small, 8) <= TOLERANCE


def test_a_zero_filter_whose_bn_still_shifts_it_is_kept() -> None:
    """Producer rows masked but BN scale/shift kept: the channel is a nonzero constant, live."""
    model = chain()
    masks = {
        "0.weight": torch.ones(16, 3, 3, 3, dtype=torch.bool),
        "0.bias": torch.ones(16, dtype=torch.bool),
    }
    masks["0.weight"][:4] = False
    masks["0.bias"][:4] = False
    small = compact(model, masks, torch.randn(2, 3, 8, 8))
    assert small[0].out_channels == 16
    assert max_difference(apply_masks(copy.deepcopy(model), masks), small, 8) <= TOLERANCE
    masks["1.weight"] = torch.ones(16, dtype=torch.bool)
    masks["1.bias"] = torch.ones(16, dtype=torch.bool)
    masks["1.weight"][:4] = False
    masks["1.bias"][:4] = False  # now the channels are exactly zero: they go
    small = compact(model, masks, torch.randn(2, 3, 8, 8))
    assert small[0].out_channels == 12 and small[3].in_channels == 12
    assert max_difference(apply_masks(copy.deepcopy(model), masks), small, 8) <= TOLERANCE


def test_unstructured_masks_lose_only_whole_dead_channels() -> None:
    model, example = build("resnet20")
    masks = default_registry().create("WT").prune(model, 0.5, [])  # data-free: no dead search
    small = compact(model, masks, example)
    assert parameter_count(small) == parameter_count(model)  # no whole channel is dead
    masks = {name: mask.clone() for name, mask in masks.items()}
    masks["layer1.0.conv2.weight"][:, 3] = False  # nothing reads channel 3 of layer1.0.conv1
    small = compact(model, masks, example)
    assert small.layer1[0].conv1.out_channels == 15
    assert small.layer1[0].bn1.num_features == 15
    assert small.layer1[0].conv2.in_channels == 15
    assert parameter_count(small) == parameter_count(model) - 16 * 9 - 2 - 16 * 9
    masked = apply_masks(copy.deepcopy(model), masks)
    assert max_difference(masked, small, 16) <= TOLERANCE
    # with S, WT also removes dead structure (dead.py): whole dead channels go, nothing else
    sample = [(torch.randn(64, 3, 16, 16), torch.zeros(64, dtype=torch.long))]
    masks = default_registry().create("WT").prune(model, 0.8, sample)
    small = compact(model, masks, example)
    masked = apply_masks(copy.deepcopy(model), masks)
    assert max_difference(masked, small, 16) <= TOLERANCE
    assert count_nonzero(small) == count_nonzero(masked)
    assert parameter_count(small) > kept_count(model, masks)  # its zeros inside live channels stay


def test_output_channels_are_never_removed() -> None:
    model = chain()
    masks = {"8.weight": torch.ones(10, 16, dtype=torch.bool)}
    masks["8.weight"][:3] = False  # three logits read nothing; they still exist
    small = compact(model, masks, torch.randn(2, 3, 8, 8))
    assert small[8].out_features == 10
    assert max_difference(apply_masks(copy.deepcopy(model), masks), small, 8) <= TOLERANCE


def test_bad_arguments_are_named() -> None:
    model = chain()
    with pytest.raises(ValueError, match="'nope.weight' are not parameters"):
        compact(model, {"nope.weight": torch.ones(1, dtype=torch.bool)}, torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="example_input must be a batched input tensor"):
        compact(model, {}, [1, 2])  # type: ignore[arg-type]
