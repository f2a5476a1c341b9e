"""CIFAR DenseNet-BC (Huang et al. 2017): bottleneck layers, growth rate k, compression 0.5.

Layers are pre-activation (bn-relu-conv), as in the paper; each BN/ReLU is its own module.
Depth L = 6n+4 gives n bottleneck layers per dense block (densenet22: n = 3, k = 12).
Transitions average-pool only while the map is at least 2x2, so 8x8 inputs work.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import can_halve, halve, init_weights
from .registry import register_model


class Bottleneck(nn.Module):
    """bn-relu-conv1x1 (4k) -> bn-relu-conv3x3 (k); output is the input with k channels appended."""

    def __init__(self, in_planes: int, growth_rate: int) -> None:
        super().__init__()
        inner = 4 * growth_rate
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, inner, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        return torch.cat([x, out], 1)


class Transition(nn.Module):
    """bn-relu-conv1x1 (compression), then a 2x2 average pool when the map allows it."""

    def __init__(self, in_planes: int, out_planes: int, pool: bool) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)
        self.pool: nn.Module = nn.AvgPool2d(2, 2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(self.relu(self.bn(x))))


class CifarDenseNet(nn.Module):
    """DenseNet-BC: stem conv (2k), three dense blocks joined by transitions, bn-relu, pool, fc."""

    def __init__(
        self,
        depth: int,
        growth_rate: int = 12,
        compression: float = 0.5,
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: tuple[int, int] = (32, 32),
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(
                f"DenseNet-BC depth must be 6n+4 with n >= 1 (10, 22, 100, ...), got {depth}"
            )
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"DenseNet compression must be in (0, 1], got {compression}")
        layers_per_block = (depth - 4) // 6
        planes = 2 * growth_rate
        size = input_size
        self.conv1 = nn.Conv2d(in_channels, planes, 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        for block_index in range(3):
            layers = []
            for _ in range(layers_per_block):
                layers.append(Bottleneck(planes, growth_rate))
                planes += growth_rate
            blocks.append(nn.Sequential(*layers))
            if block_index < 2:
                out_planes = int(planes * compression)
                pool = can_halve(size)
                blocks.append(Transition(planes, out_planes, pool))
                size = halve(size) if pool else size
                planes = out_planes
        self.dense1, self.trans1, self.dense2, self.trans2, self.dense3 = blocks
        self.bn = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.trans1(self.dense1(x))
        x = self.trans2(self.dense2(x))
        x = self.relu(self.bn(self.dense3(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register_model
def densenet22(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """DenseNet-BC-22 for CIFAR, growth rate 12, compression 0.5 (~0.07M params)."""
    return CifarDenseNet(22, 12, 0.5, num_classes, in_channels, input_size)
