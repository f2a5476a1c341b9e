"""Shared plumbing for the model-based metrics: device placement, eval mode, batched forwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from robustprune.device import channels_last, model_device


@contextmanager
def evaluating(model: nn.Module, device: torch.device | str | None) -> Iterator[torch.device]:
    """Run ``model`` in eval mode on ``device`` (default: where it already is), then restore both."""
    original_device = model_device(model)
    target = torch.device(device) if device is not None else original_device
    was_training = model.training
    moved = target != original_device
    if moved:
        model.to(target)
    model.eval()
    try:
        yield target
    finally:
        model.train(was_training)
        if moved:
            model.to(original_device)


def check_batch_size(batch_size: int) -> None:
    """Raise if ``batch_size`` is not a positive integer."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def check_images(inputs: torch.Tensor, name: str = "inputs") -> None:
    """Raise unless ``inputs`` is a floating N×C×H×W tensor."""
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4 or not inputs.is_floating_point():
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"{name} must be a floating N×C×H×W tensor, got {shape}")


@torch.inference_mode()
def batched_logits(
    model: nn.Module, inputs: torch.Tensor, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Logits of ``model`` on ``inputs`` in chunks of ``batch_size``, returned on ``device``."""
    with channels_last(model):
        outputs = [
            model(inputs[start : start + batch_size].to(device))
            for start in range(0, inputs.shape[0], batch_size)
        ]
    if not outputs:
        return torch.empty(0, device=device)
    return torch.cat(outputs)
