"""Physically smaller networks: the channels that masks leave dead are cut out of the layers.

``compact(model, masks, example_input)`` returns a deep copy of ``model`` with ``masks``
applied and every *dead group channel* removed from every layer that holds it, through
Torch-Pruning's DependencyGraph on the copy, so layers coupled by residual adds and
concatenations shrink together. A channel of a channel group (structure.py) is dead when it
contributes exactly nothing, judged on the masked weights:

- *not produced*: every producer's filter (weight row and bias) and every per-channel
  parameter on the way (BN scale and shift, depthwise filters: the group's affines) is zero,
  so the channel is exactly zero for every input; or
- *not consumed*: every consumer's input slice of it is zero, so nothing reads it.

Channels of a group that reaches the network's output are never removed (the output keeps
its shape), and a group keeps at least one channel. Everything else stays, including masked
entries inside live channels (they stay zero): unstructured masks (WT, SiPP) shrink only
where they happen to kill a whole channel, so they get no speedup they did not earn.
The compacted network computes what the masked one computes (up to float summation order).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from robustprune.device import model_device
from robustprune.pruning.masks import Masks, apply_masks
from robustprune.pruning.structure import (
    AFFINE,
    CONSUMER,
    PRODUCER,
    ChannelGroup,
    channel_structure,
)


def compact(model: nn.Module, masks: Masks, example_input: Tensor) -> nn.Module:
    """A deep copy of ``model`` with ``masks`` applied and every dead group channel removed.

    ``example_input`` is a batch shaped like the network's input (e.g. ``(2, 3, 32, 32)``);
    the dependency graph is traced with it in eval mode. ``model`` itself is not changed, and
    the copy is in the mode ``model`` was in.
    """
    import torch_pruning  # lazy: importing it costs ~4 s, and only compaction needs it here

    if not isinstance(example_input, Tensor) or example_input.dim() < 2:
        raise ValueError(
            "compact: example_input must be a batched input tensor shaped like the network's "
            f"input, e.g. (2, 3, 32, 32); got {_describe(example_input)}"
        )
    parameters = dict(model.named_parameters())
    unknown = sorted(name for name in masks if name not in parameters)
    if unknown:
        raise ValueError(
            f"compact: mask name(s) {', '.join(map(repr, unknown[:5]))} are not parameters of "
            f"the model; valid names are model.named_parameters(), e.g. "
            f"{next(iter(parameters), '')!r}"
        )
    device = model_device(model)
    example = example_input.to(device)
    compacted = copy.deepcopy(model)
    apply_masks(compacted, masks)
    structure = channel_structure(compacted, example)
    dead = {group.root: removable_channels(compacted, group) for group in structure.groups}
    dead = {root: channels for root, channels in dead.items() if channels}
    if not dead:
        return compacted
    modules = dict(compacted.named_modules())
    was_training = compacted.training
    compacted.eval()
    try:
        with torch.enable_grad():  # Torch-Pruning traces the graph through autograd
            graph = torch_pruning.DependencyGraph().build_dependency(
                compacted, example_inputs=example
            )
        for root, channels in dead.items():
            # a group's root produces only its own group, so its indices are those of the
            # group and stay valid while other groups are cut
            module = modules[root]
            prune_out = (
                torch_pruning.prune_conv_out_channels
                if isinstance(module, nn.Conv2d)
                else torch_pruning.prune_linear_out_channels
            )
            graph.get_pruning_group(module, prune_out, idxs=channels).prune()
    finally:
        compacted.train(was_training)
    return compacted


def removable_channels(model: nn.Module, group: ChannelGroup) -> list[int]:
    """Group channels of ``group`` that contribute nothing in ``model`` (sorted indices).

    Judged on ``model``'s parameter values (apply the masks first). Empty for a group that
    reaches the output; never every channel (the lowest-numbered dead one stays).
    """
    if group.reaches_output:
        return []
    produced = torch.zeros(group.width, dtype=torch.bool)
    consumed = torch.zeros(group.width, dtype=torch.bool)
    consumers = 0
    modules = dict(model.named_modules())
    for member in group.members:
        module = modules[member.module]
        if member.role == CONSUMER:
            consumers += 1
            weight = module.weight.detach()
            columns = weight.transpose(0, 1).reshape(weight.shape[1], -1).ne(0).any(dim=1)
            consumed[member.channel[columns.cpu()[member.index]]] = True
            continue
        if member.role not in (PRODUCER, AFFINE):
            raise ValueError(
                f"channel group {group.root!r}: member {member.module!r} has role "
                f"{member.role!r}; valid roles: {PRODUCER}, {CONSUMER}, {AFFINE}"
            )
        for parameter in _own_parameters(module):
            if parameter.shape[0] <= int(member.index.max()):
                continue  # not a per-channel parameter of this member's channels
            rows = parameter.detach().reshape(parameter.shape[0], -1).ne(0).any(dim=1).cpu()
            produced[member.channel[rows[member.index]]] = True
    if consumers == 0:
        consumed[:] = True  # nothing in the group reads it: leave the channel alone
    dead = ~(produced & consumed)
    if bool(dead.all()):
        dead[0] = False  # a layer needs at least one channel
    return torch.nonzero(dead).flatten().tolist()


def _own_parameters(module: nn.Module) -> list[nn.Parameter]:
    return [
        parameter
        for parameter in module.parameters(recurse=False)
        if parameter is not None and parameter.dim() >= 1
    ]


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"
