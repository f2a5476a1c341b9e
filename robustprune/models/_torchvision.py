"""Adapters that make torchvision ResNets meet the pruning code's constraints.

torchvision's BasicBlock/Bottleneck call one ``self.relu`` module two or three times; the
pruning code needs a distinct module per use. ``split_shared_relus`` gives each block its own
ReLU per call site without touching parameters, so state dicts stay torchvision-compatible.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet


class DistinctReluBasicBlock(tv_resnet.BasicBlock):
    """torchvision BasicBlock whose two ReLU uses are two modules (``relu``, ``relu_out``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu_out(out + identity)


class DistinctReluBottleneck(tv_resnet.Bottleneck):
    """torchvision Bottleneck whose three ReLU uses are three modules (``relu``, ``relu2``, ``relu_out``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu_out(out + identity)


def split_shared_relus(model: nn.Module) -> nn.Module:
    """Convert every torchvision ResNet block in ``model`` (in place) to one ReLU module per use."""
    for module in model.modules():
        if type(module) is tv_resnet.BasicBlock:
            module.__class__ = DistinctReluBasicBlock
            module.relu_out = nn.ReLU(inplace=True)
        elif type(module) is tv_resnet.Bottleneck:
            module.__class__ = DistinctReluBottleneck
            module.relu2 = nn.ReLU(inplace=True)
            module.relu_out = nn.ReLU(inplace=True)
    return model


def replace_stem(model: nn.Module, in_channels: int) -> None:
    """Swap a torchvision ResNet's first conv for one taking ``in_channels`` (same shape otherwise)."""
    if in_channels == model.conv1.in_channels:
        return
    old = model.conv1
    model.conv1 = nn.Conv2d(
        in_channels,
        old.out_channels,
        kernel_size=old.kernel_size,
        stride=old.stride,
        padding=old.padding,
        bias=old.bias is not None,
    )
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
