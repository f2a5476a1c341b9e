"""ImageNet ResNets from torchvision (random weights, nothing downloaded).

Blocks are converted to one ReLU module per use (see ``_torchvision``); parameter names and
counts are torchvision's. ``input_size`` is free: the head pools adaptively.
"""

from __future__ import annotations

from torch import nn
from torchvision import models as tv_models

from ._torchvision import replace_stem, split_shared_relus
from .registry import register_model


def _build(constructor, num_classes: int, in_channels: int) -> nn.Module:
    model = constructor(weights=None, num_classes=num_classes)
    replace_stem(model, in_channels)
    return split_shared_relus(model)


@register_model(source="torchvision")
def resnet18(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """torchvision ResNet-18 (~11.7M params at 1000 classes)."""
    return _build(tv_models.resnet18, num_classes, in_channels)


@register_model(source="torchvision")
def resnet101(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """torchvision ResNet-101 (~44.5M params at 1000 classes)."""
    return _build(tv_models.resnet101, num_classes, in_channels)
