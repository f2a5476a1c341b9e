"""The model zoo: ``create(name, num_classes, in_channels, input_size)`` and its registry.

CIFAR families (resnet, vgg, densenet, wrn) are defined here; ImageNet and segmentation
networks come from torchvision; ``timm:<name>`` builds any timm model. Weights start random.
"""

from __future__ import annotations

from . import densenet, imagenet, resnet, segmentation, vgg, wrn  # noqa: F401  (registers)
from .registry import (
    ModelInfo,
    UnknownModelError,
    create,
    list_models,
    model_info,
    register_model,
    unregister_model,
)

__all__ = [
    "ModelInfo",
    "UnknownModelError",
    "create",
    "list_models",
    "model_info",
    "register_model",
    "unregister_model",
]
