"""CIFAR VGG with batch norm (Simonyan & Zisserman 2015, CIFAR variant): conv stack + one linear.

Each conv is conv3x3-bn-relu. A 2x2 max-pool is placed only while the feature map is at least
2x2 and, where convolutions follow, only while they still get a map of at least 2x2: a 3x3
conv on a 1x1 map reads nothing but padding with 8 of its 9 kernel positions (dead weights).
So the same configuration runs on 32x32 CIFAR (all five pools, as published) and on 8x8
digits (the pools that would leave later convs at 1x1 are skipped); a global average pool then
feeds the single linear classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import can_halve, halve, init_weights
from .registry import register_model

POOL = "M"

CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL],
    "vgg11_slim": [16, POOL, 32, POOL, 64, 64, POOL, 128, 128, POOL, 128, 128, POOL],
    "vgg16": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL,
              512, 512, 512, POOL, 512, 512, 512, POOL],
}  # fmt: skip


class CifarVGG(nn.Module):
    """VGG-BN feature stack (pools adapted to ``input_size``), global average pool, linear."""

    def __init__(
        self,
        config: list[int | str],
        num_classes: int = 10,
        in_channels: int = 3,
        input_size: tuple[int, int] = (32, 32),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = in_channels, input_size
        for position, item in enumerate(config):
            if item == POOL:
                convs_follow = any(later != POOL for later in config[position + 1 :])
                if can_halve(size) and not (convs_follow and min(halve(size)) < 2):
                    layers.append(nn.MaxPool2d(2, 2))
                    size = halve(size)
                continue
            assert isinstance(item, int)
            layers += [
                nn.Conv2d(channels, item, 3, padding=1, bias=False),
                nn.BatchNorm2d(item),
                nn.ReLU(inplace=True),
            ]
            channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


@register_model
def vgg11_bn(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """VGG-11 with BN for CIFAR (~9.2M params); the small VGG for the digits default."""
    return CifarVGG(CONFIGS["vgg11"], num_classes, in_channels, input_size)


@register_model
def vgg11_bn_slim(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """VGG-11 with BN at a quarter of the width, 128 at most (~0.6M params): the digits default's VGG."""
    return CifarVGG(CONFIGS["vgg11_slim"], num_classes, in_channels, input_size)


@register_model
def vgg16_bn(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """VGG-16 with BN for CIFAR, single linear classifier (~15M params)."""
    return CifarVGG(CONFIGS["vgg16"], num_classes, in_channels, input_size)
