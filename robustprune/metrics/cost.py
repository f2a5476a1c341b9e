"""Cost of a (pruned) network: parameters, nonzeros, achieved prune ratio, FLOPs.

FLOPs are multiply-accumulates (MACs) of Conv2d and Linear layers for one input, counting only
nonzero weights, and only those that read an input channel that is not structurally dead.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from robustprune.device import model_device


def _spatial(input_size: int | tuple[int, int]) -> tuple[int, int]:
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(size) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
        raise ValueError(
            f"input_size must be a positive int or (height, width), got {input_size!r}"
        )
    return size  # type: ignore[return-value]


def _positive_probe(model: nn.Module) -> nn.Module:
    """A copy whose parameters are |w| and whose BN layers see mean 0, var 1.

    Fed a positive input, every activation connected to it through a nonzero weight or bias is
    then > 0, so exact zeros are structural (removed filters, dead channels), never data luck.
    """
    probe = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in probe.parameters():
            parameter.abs_()
        for module in probe.modules():
            if isinstance(module, _BatchNorm) and module.running_mean is not None:
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
    return probe.eval()


def _conv_macs(module: nn.Conv2d, alive: torch.Tensor, output: torch.Tensor) -> int:
    weight = module.weight.detach()
    out_channels, in_per_group = weight.shape[:2]
    groups = module.groups
    kernel_nonzeros = weight.ne(0).sum(dim=(2, 3))  # (out, in / groups)
    alive_per_filter = alive.reshape(groups, in_per_group).repeat_interleave(
        out_channels // groups, dim=0
    )
    positions = output.shape[0] * output.shape[2] * output.shape[3]
    return int((kernel_nonzeros * alive_per_filter).sum()) * positions


def _linear_macs(module: nn.Linear, alive: torch.Tensor, output: torch.Tensor) -> int:
    weight = module.weight.detach()
    positions = output.numel() // output.shape[-1]
    return int((weight.ne(0) * alive[None, :]).sum()) * positions


@contextmanager
def _mac_hooks(model: nn.Module, macs: dict[str, int]) -> Iterator[None]:
    def hook(name: str):
        def record(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            activation = args[0]
            if isinstance(module, nn.Conv2d):
                alive = activation.ne(0).any(dim=0).flatten(1).any(dim=1)
                count = _conv_macs(module, alive, output)
            else:
                alive = activation.ne(0).reshape(-1, activation.shape[-1]).any(dim=0)
                count = _linear_macs(module, alive, output)
            macs[name] = macs.get(name, 0) + count

        return record

    handles = [
        module.register_forward_hook(hook(name))
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def flops_by_layer(
    model: nn.Module,
    input_size: int | tuple[int, int] = 32,
    in_channels: int = 3,
    device: torch.device | str | None = None,
) -> dict[str, int]:
    """MACs per Conv2d/Linear layer (qualified module name -> count) for one input.

    Counted per output position as the nonzero weights that read a live input channel: a zero
    output filter loses its MACs, and so does every weight reading a channel that is exactly
    zero for any input (its producer was removed). Liveness is found on a positive-weight copy
    of ``model``, so it assumes conv/linear/BN/ReLU/pooling/add/concat style networks.
    """
    height, width = _spatial(input_size)
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
    target = torch.device(device) if device is not None else model_device(model)
    probe = _positive_probe(model).to(target)
    dtype = next((p.dtype for p in probe.parameters() if p.is_floating_point()), torch.float32)
    macs: dict[str, int] = {}
    with _mac_hooks(probe, macs):
        probe(torch.ones(1, in_channels, height, width, device=target, dtype=dtype))
    return macs


def flops(
    model: nn.Module,
    input_size: int | tuple[int, int] = 32,
    in_channels: int = 3,
    device: torch.device | str | None = None,
) -> int:
    """Multiply-accumulates of all Conv2d/Linear layers for one input (see :func:`flops_by_layer`)."""
    return sum(flops_by_layer(model, input_size, in_channels, device).values())


def flop_reduction(
    pruned: nn.Module,
    parent: nn.Module,
    input_size: int | tuple[int, int] = 32,
    in_channels: int = 3,
    device: torch.device | str | None = None,
    parent_macs: int | None = None,
) -> float:
    """Fraction of the parent's MACs the pruned network no longer needs: 1 - flops(pruned) / flops(parent).

    ``parent_macs``: ``flops(parent, input_size, in_channels)`` when the caller already has it
    (a curve's points share one parent); counted here when None.
    """
    if parent_macs is None:
        parent_macs = flops(parent, input_size, in_channels, device)
    if parent_macs == 0:
        raise ValueError(
            "parent has no Conv2d/Linear multiply-accumulates; cannot compute a FLOP reduction"
        )
    return 1.0 - flops(pruned, input_size, in_channels, device) / parent_macs
