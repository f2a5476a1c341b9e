"""Cost: parameter counts, achieved prune ratio, MACs with sparse and structural reductions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustprune.metrics import (
    flop_reduction,
    flops,
    flops_by_layer,
)


def small_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),  # 8*3*9 MACs at 8x8
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 4, 3, stride=2, padding=1),  # 4*8*9 MACs at 4x4
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),  # 20 MACs
    ).eval()


DENSE = {"0": 8 * 3 * 9 * 64, "3": 4 * 8 * 9 * 16, "7": 4 * 5}


def test_dense_macs_follow_the_layer_formula():
    net = small_net()
    assert flops_by_layer(net, input_size=8) == DENSE
    assert flops(net, input_size=(8, 8)) == sum(DENSE.values())


def test_unstructured_zeros_scale_macs_by_nonzero_weights():
    net = small_net()
    with torch.no_grad():
        mask = torch.rand_like(net[3].weight) < 0.5
        net[3].weight[mask] = 0.0
    nonzero = int((~mask).sum())
    assert flops_by_layer(net, input_size=8)["3"] == nonzero * 16


def test_removed_filter_removes_its_macs_and_the_consumers_reads():
    net = small_net()
    with torch.no_grad():
        net[0].weight[2] = 0.0  # filter 2 of conv 0 removed along with its BN scale/shift
        net[1].weight[2] = 0.0
        net[1].bias[2] = 0.0
    macs = flops_by_layer(net, input_size=8)
    assert macs["0"] == 7 * 3 * 9 * 64
    # conv 3 still has nonzero weights on input channel 2, but that channel is always zero.
    assert macs["3"] == 4 * 7 * 9 * 16


def test_a_dead_relu_is_not_mistaken_for_a_removed_channel():
    net = small_net()
    with torch.no_grad():
        net[1].bias[:] = -1e6  # every activation after ReLU is zero for real inputs
    assert flops(net, input_size=8) == sum(DENSE.values())


def test_grouped_convolution_counts_per_group():
    net = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=4, bias=False))
    assert flops(net, input_size=5, in_channels=4) == 8 * 1 * 9 * 25


def test_flops_leaves_the_model_untouched():
    net = small_net()
    net[1].running_mean.fill_(0.3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    flops(net, input_size=8)
    assert net.training
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_flop_reduction_of_a_pruned_copy():
    parent = small_net()
    pruned = small_net()
    with torch.no_grad():
        pruned[3].weight[:2] = 0.0  # half of conv 3's filters
    expected = (2 * 8 * 9 * 16) / sum(DENSE.values())
    assert flop_reduction(pruned, parent, input_size=8) == pytest.approx(expected)
    assert flop_reduction(parent, parent, input_size=8) == 0.0
    # the parent's count handed in (the harness counts it once per curve): the same value
    parent_macs = flops(parent, input_size=8)
    assert flop_reduction(pruned, parent, input_size=8, parent_macs=parent_macs) == (
        flop_reduction(pruned, parent, input_size=8)
    )


def test_resnet20_at_cifar_size_is_about_41_million_macs():
    from robustprune.models import create

    macs = flops(create("resnet20"), input_size=32, in_channels=3)
    assert 40.0e6 < macs < 41.5e6
