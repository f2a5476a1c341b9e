"""CIFAR ResNets (He et al. 2016, section 4.2): 6n+2 layers, basic blocks, stages of 16/32/64.

Shortcuts are option B: identity inside a stage, 1x1 conv + BN where the stage changes width
and stride. Option A (zero-padded identity) has the same published counts within 1 % but adds
a parameter-free channel padding that structured pruning cannot follow; with B every
channel-changing operation is a Conv2d.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import init_weights
from .registry import register_model


class BasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn, plus shortcut, then relu; every module used once."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        else:
            self.shortcut = nn.Identity()
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for small images: stem, three stages (stride 1, 2, 2), global pool, fc."""

    def __init__(
        self, depth: int, num_classes: int = 10, in_channels: int = 3, widths=(16, 32, 64)
    ) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(
                f"CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 20, 56, ...), got {depth}"
            )
        blocks_per_stage = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        in_planes = widths[0]
        stages = []
        for index, planes in enumerate(widths):
            blocks = []
            for block_index in range(blocks_per_stage):
                stride = 2 if index > 0 and block_index == 0 else 1
                blocks.append(BasicBlock(in_planes, planes, stride))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register_model
def resnet8(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """ResNet-8 for CIFAR (1 block per stage, ~0.08M params); the small default."""
    return CifarResNet(8, num_classes, in_channels)


@register_model
def resnet20(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """ResNet-20 for CIFAR (~0.27M params)."""
    return CifarResNet(20, num_classes, in_channels)


@register_model
def resnet32(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """ResNet-32 for CIFAR (~0.47M params)."""
    return CifarResNet(32, num_classes, in_channels)


@register_model
def resnet44(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """ResNet-44 for CIFAR (~0.66M params)."""
    return CifarResNet(44, num_classes, in_channels)


@register_model
def resnet56(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """ResNet-56 for CIFAR (~0.85M params)."""
    return CifarResNet(56, num_classes, in_channels)


@register_model
def resnet110(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """ResNet-110 for CIFAR (~1.7M params)."""
    return CifarResNet(110, num_classes, in_channels)
