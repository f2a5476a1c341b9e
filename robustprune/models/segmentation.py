"""Segmentation networks from torchvision, wrapped so forward returns a plain logits tensor.

torchvision's DeepLabV3 returns ``{"out": logits}``; ``LogitsOnly`` returns ``logits``
(N x classes x H x W, upsampled to the input size) so the training and evaluation engine
treats it like any classifier with a per-pixel output.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_model


class LogitsOnly(nn.Module):
    """Wrap a torchvision segmentation model; ``forward`` returns its ``"out"`` tensor."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


@register_model(source="torchvision")
def deeplabv3_resnet50(
    num_classes: int, in_channels: int, input_size: tuple[int, int]
) -> nn.Module:
    """torchvision DeepLabV3-ResNet50, no aux head (~39.6M params at 21 classes); returns logits."""
    from torchvision.models import segmentation as tv_segmentation

    from ._torchvision import replace_stem, split_shared_relus

    model = tv_segmentation.deeplabv3_resnet50(
        weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False
    )
    replace_stem(model.backbone, in_channels)
    return LogitsOnly(split_shared_relus(model))
