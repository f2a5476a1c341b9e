"""Wide ResNets (Zagoruyko & Komodakis 2016): WRN-d-k, pre-activation basic blocks, no dropout.

Stages have 16k/32k/64k channels with (d-4)/6 blocks each; a 1x1 conv shortcut appears
where the width or stride changes. Every BN/ReLU is its own module.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import init_weights
from .registry import register_model


class WideBlock(nn.Module):
    """bn-relu-conv3x3-bn-relu-conv3x3 plus shortcut (identity, or 1x1 conv on the activated input)."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.projects = stride != 1 or in_planes != planes
        self.shortcut: nn.Module = (
            nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
            if self.projects
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.relu1(self.bn1(x))
        out = self.conv1(activated)
        out = self.conv2(self.relu2(self.bn2(out)))
        # A projecting block's shortcut sees the activated input (as in the reference WRN).
        shortcut_input = activated if self.projects else x
        return out + self.shortcut(shortcut_input)


class WideResNet(nn.Module):
    """WRN-depth-widen: stem conv (16), three wide stages (stride 1, 2, 2), bn-relu, pool, fc."""

    def __init__(self, depth: int, widen: int, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(
                f"WideResNet depth must be 6n+4 with n >= 1 (10, 16, 28, ...), got {depth}"
            )
        if widen < 1:
            raise ValueError(f"WideResNet widen factor must be >= 1, got {widen}")
        blocks_per_stage = (depth - 4) // 6
        widths = (16 * widen, 32 * widen, 64 * widen)
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        in_planes = 16
        stages = []
        for index, planes in enumerate(widths):
            blocks = []
            for block_index in range(blocks_per_stage):
                stride = 2 if index > 0 and block_index == 0 else 1
                blocks.append(WideBlock(in_planes, planes, stride))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.bn = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        x = self.relu(self.bn(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register_model
def wrn16_2(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """WRN-16-2 (~0.69M params); the small wide net for the digits default."""
    return WideResNet(16, 2, num_classes, in_channels)


@register_model
def wrn16_8(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """WRN-16-8 (~11M params), as in the paper."""
    return WideResNet(16, 8, num_classes, in_channels)
