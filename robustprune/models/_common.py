"""Small helpers shared by the CIFAR families (initialization, static pooling plans)."""

from __future__ import annotations

from torch import nn


def init_weights(model: nn.Module) -> None:
    """He-normal (fan_out) convs, unit-scale zero-shift BN, zero linear bias: the CIFAR default."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)


def can_halve(size: tuple[int, int]) -> bool:
    """Whether a 2x2/stride-2 pool still has a full window on a ``(height, width)`` map (pixels)."""
    return min(size) >= 2


def halve(size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after a 2x2/stride-2 pool (floor), in pixels."""
    return (size[0] // 2, size[1] // 2)
