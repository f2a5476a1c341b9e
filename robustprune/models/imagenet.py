"""ImageNet ResNets from torchvision (random weights, nothing downloaded).

Blocks are converted to one ReLU module per use (see ``_torchvision``); parameter names and
counts are torchvision's. ``input_size`` is free: the head pools adaptively.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model

# torchvision is imported when a model is built, not when the registry loads: it costs seconds
# of start-up in every benchmark worker that never builds an ImageNet network.


def _build(name: str, num_classes: int, in_channels: int) -> nn.Module:
    from torchvision import models as tv_models

    from ._torchvision import replace_stem, split_shared_relus

    model = getattr(tv_models, name)(weights=None, num_classes=num_classes)
    replace_stem(model, in_channels)
    return split_shared_relus(model)


@register_model(source="torchvision")
def resnet18(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """torchvision ResNet-18 (~11.7M params at 1000 classes)."""
    return _build("resnet18", num_classes, in_channels)


@register_model(source="torchvision")
def resnet101(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """torchvision ResNet-101 (~44.5M params at 1000 classes)."""
    return _build("resnet101", num_classes, in_channels)
