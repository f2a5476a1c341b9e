"""PFP's bound-and-refine channel scores equal the exact max-product, bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustprune.pruning import refine
from robustprune.pruning.denominators import layer_denominators, reciprocal_denominators
from robustprune.pruning.refine import channel_maxima, exact_entry_maxima
from robustprune.pruning.sensitivity import (
    channel_sensitivities,
    input_patches,
    layer_patches,
    nonnegative_batch,
)


def _reference(patches: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
    return exact_entry_maxima(patches, weight, 1 << 24).view(groups, -1).amax(dim=1)


def _random_layer(seed: int, module: nn.Module, batch: int, size: int, dtype=torch.float32):
    """Module, unfolded patches (doubled batch for signed inputs) and flat weight, with pruned
    weights, a dead channel, zero and negative activations and a wide dynamic range."""
    generator = torch.Generator().manual_seed(seed)
    module = module.to(dtype)
    with torch.no_grad():
        weight = module.weight
        weight.copy_(torch.randn(weight.shape, generator=generator, dtype=dtype))
        weight.mul_(10 ** (4 * torch.rand(weight.shape, generator=generator, dtype=dtype) - 2))
        weight[torch.rand(weight.shape, generator=generator) < 0.3] = 0  # pruned entries
        weight[:, 0] = 0  # an input channel no filter reads
    if isinstance(module, nn.Conv2d):
        shape = (batch, module.in_channels, size, size)
    else:
        shape = (batch, module.in_features)
    inputs = torch.randn(shape, generator=generator, dtype=dtype)
    inputs[torch.rand(shape, generator=generator) < 0.4] = 0  # ReLU-like zeros
    inputs *= 10 ** (2 * torch.rand(shape, generator=generator, dtype=dtype) - 1)
    patches = input_patches(module, inputs)
    return (
        patches,
        module.weight.detach().reshape(module.weight.shape[0], -1),
        module.weight.shape[1],
    )


LAYERS = [
    lambda: nn.Conv2d(3, 8, 3, padding=1),
    lambda: nn.Conv2d(6, 16, 3, stride=2, padding=1),
    lambda: nn.Conv2d(4, 5, 1),
    lambda: nn.Conv2d(2, 3, (1, 3), padding=(0, 1), dilation=2),
    lambda: nn.Linear(12, 7),
    lambda: nn.Conv2d(64, 96, 3, padding=1),  # large weight, one patch: the folded matmul
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("layer", range(len(LAYERS)))
def test_channel_scores_equal_the_exact_max_product(layer, seed):
    module = LAYERS[layer]()
    size = 1 if layer == len(LAYERS) - 1 else 6
    patches, weight, groups = _random_layer(seed, module, batch=5, size=size)
    expected = _reference(patches, weight, groups)
    assert torch.equal(channel_maxima(patches, weight, groups), expected)
    assert expected[0] == 0  # the dead channel


def test_channel_scores_respect_and_never_lower_the_running_maximum():
    patches, weight, groups = _random_layer(7, nn.Conv2d(4, 6, 3, padding=1), batch=4, size=5)
    expected = _reference(patches, weight, groups)
    lower = expected * torch.tensor([0.5, 1.0, 2.0, 0.0])
    assert torch.equal(
        channel_maxima(patches, weight, groups, lower), torch.maximum(expected, lower)
    )


def test_channel_scores_in_float64():
    patches, weight, groups = _random_layer(3, nn.Conv2d(3, 8, 3, padding=1), 3, 5, torch.float64)
    assert torch.equal(channel_maxima(patches, weight, groups), _reference(patches, weight, groups))


def test_terms_below_the_power_floor_are_not_lost():
    # filter 1 reads only channel 1, with 1e-12 of the largest weight: the 8th power underflows
    # float32, yet the bound stays above every exact value (1 where a = 2)
    weight = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1e-12, 0.0], [1.0, 1e-12, 0.5]])
    patches = torch.tensor([[[1.0, 0.0], [1.0, 2.0], [3.0, 1e-3]]])  # n=1, K=3, P=2
    expected = _reference(patches, weight, 3)
    assert expected[1] == 1.0
    assert torch.equal(channel_maxima(patches, weight, 3), expected)
    magnitude, reciprocal = reciprocal_denominators(patches, weight, fold=True)
    values = (magnitude[:, :, None] * reciprocal[0][:, None, :] * patches[0]).amax(dim=0)
    assert bool((refine._power_sum_bound(patches, magnitude, reciprocal)[0] >= values).all())


def test_root_upper_bound_is_above_the_root_and_within_its_factor():
    generator = torch.Generator().manual_seed(0)
    for dtype, integer, smallest, largest in [
        (torch.float32, torch.int32, 0x00800000, 0x7F7FFFFF),  # every positive normal float
        (torch.float64, torch.int64, 0x0010000000000000, 0x7FEFFFFFFFFFFFFF),
    ]:
        values = torch.randint(smallest, largest, (200_000,), generator=generator)
        values = values.to(integer).view(dtype)
        for power in (2, 4, 8):
            root = values.to(torch.float64) ** (1 / power)
            ratio = refine.root_upper_bound(values.clone(), power).to(torch.float64) / root
            assert float(ratio.min()) >= 1.0
            assert float(ratio.max()) <= 2 ** (refine.LOG2_GAP * (1 + 1 / power)) * (1 + 1e-6)
    with pytest.raises(ValueError, match="power=6"):
        refine.root_upper_bound(torch.ones(3), 6)


def test_near_zero_denominators_and_ties():
    # |z| just above the threshold gives reciprocals near 1e12; equal values tie across entries
    weight = torch.tensor([[1.0, 1.0, -1.0], [2e-12, 0.0, 0.0], [1.0, 1.0, 1.0]])
    patches = torch.tensor(
        [[[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    expected = _reference(patches, weight, 3)
    assert torch.equal(channel_maxima(patches, weight, 3), expected)


def test_many_candidates_take_several_refinement_batches(monkeypatch):
    # constant inputs and equal weights: every bound ties, so every entry is a candidate
    monkeypatch.setattr(refine, "REFINE_BATCH", 7)
    weight = torch.ones(5, 4 * 9)
    patches = torch.ones(3, 4 * 9, 16)
    expected = _reference(patches, weight, 4)
    assert torch.equal(channel_maxima(patches, weight, 4), expected)
    patches, weight, groups = _random_layer(11, nn.Conv2d(5, 7, 3, padding=1), batch=6, size=6)
    assert torch.equal(channel_maxima(patches, weight, groups), _reference(patches, weight, groups))


def test_channel_sensitivities_equal_the_exact_scores_on_a_network():
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 36, 4),
    )
    inputs = torch.randn(10, 3, 6, 6)
    layers = {
        "0": (model[0], inputs),
        "2": (model[2], model[1](model[0](inputs)).detach()),
        "5": (model[5], model[4](model[3](model[2](model[1](model[0](inputs))))).detach()),
    }
    # one chunk of all ten, and one chunk per sample (the running maxima prune candidates; the
    # reference takes the same chunks and the layer's own z, whose rounding may depend on them)
    for max_elements, step in ((1 << 24, 10), (1 << 10, 1)):
        found = channel_sensitivities(model, [(inputs, None)], max_elements=max_elements)
        for name, (module, activations) in layers.items():
            weight = module.weight.detach()
            flat = weight.reshape(weight.shape[0], -1)
            expected = torch.stack(
                [
                    exact_entry_maxima(
                        input_patches(module, chunk),
                        flat,
                        1 << 24,
                        layer_denominators(module, nonnegative_batch(chunk)),
                    )
                    .view(weight.shape[1], -1)
                    .amax(dim=1)
                    for chunk in activations.split(step)
                ]
            )
            assert torch.equal(found[name].scores, expected.amax(dim=0)), (name, step)


CONVS = [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 5), stride=(2, 1), padding=(2, 1), dilation=2),
    dict(kernel_size=1),
    dict(kernel_size=3, padding="same", dilation=(1, 2)),
    dict(kernel_size=3, padding="valid"),
    dict(kernel_size=3, padding=1, padding_mode="reflect"),
    dict(kernel_size=3, padding=(1, 2), padding_mode="circular"),
    dict(kernel_size=3, padding=1, padding_mode="replicate"),
]


@pytest.mark.parametrize("options", CONVS, ids=[str(options) for options in CONVS])
def test_input_patches_of_a_conv_equal_unfold_of_the_padded_input(options):
    """The strided-window patches are exactly F.unfold's, and the conv's output is their product
    with the flattened weight (so the kernel's entries line up with the weight's)."""
    module = nn.Conv2d(3, 4, **options)
    inputs = torch.rand(2, 3, 9, 10, generator=torch.Generator().manual_seed(0))
    mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
    padded = nn.functional.pad(inputs, module._reversed_padding_repeated_twice, mode=mode)
    expected = nn.functional.unfold(
        padded, module.kernel_size, dilation=module.dilation, stride=module.stride
    )
    patches = input_patches(module, inputs)
    assert torch.equal(patches, expected)
    output = module(inputs).detach()
    product = module.weight.detach().reshape(4, -1) @ patches + module.bias.detach()[:, None]
    torch.testing.assert_close(product.view_as(output), output, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layer", range(len(LAYERS)))
def test_a_layers_own_denominators_equal_those_of_its_patches(layer):
    """z by the layer's operation (what the engine uses) equals the matmul over its patches up
    to the summation order; the weights' magnitudes are the same exactly."""
    module = LAYERS[layer]()
    size = 1 if layer == len(LAYERS) - 1 else 6
    shape = (4, module.in_channels, size, size) if module.weight.dim() == 4 else (4, 12)
    batch = nonnegative_batch(torch.randn(shape, generator=torch.Generator().manual_seed(layer)))
    weight = module.weight.detach()
    magnitude, reciprocal = layer_denominators(module, batch)
    expected_magnitude, expected_reciprocal = reciprocal_denominators(
        layer_patches(module, batch), weight.reshape(weight.shape[0], -1)
    )
    assert torch.equal(magnitude, expected_magnitude)
    torch.testing.assert_close(reciprocal, expected_reciprocal, rtol=1e-4, atol=0.0)
