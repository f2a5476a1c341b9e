"""Public channel groups: which parameters, and which slices of them, live or die together.

A structured plugin that removes a channel must remove it from every parameter that holds it,
or the network stops lining up (a residual add of a 16- and a 15-channel tensor). The groups
are those the built-in structured methods use (structure.py, traced with Torch-Pruning's
dependency graph), given here as plain parameter slices.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from robustprune.pruning.structure import AFFINE, CONSUMER, PRODUCER, channel_structure


@dataclass(frozen=True)
class ParameterSlice:
    """The part of one parameter that holds a group's channels.

    ``index[i]`` is a position along dimension ``dim`` of ``parameter`` (0: output rows of a
    weight, or entries of a bias or BN parameter; 1: input columns of a weight) and
    ``channel[i]`` the group channel it belongs to. ``role`` is ``"producer"`` (a prunable
    layer writing the channel), ``"consumer"`` (a prunable layer reading it) or ``"affine"``
    (a per-channel parameter on the way: BN scale and shift, a depthwise filter).
    """

    parameter: str
    dim: int
    index: Tensor
    channel: Tensor
    role: str


@dataclass(frozen=True)
class CoupledChannels:
    """``width`` channels that every slice in ``slices`` holds: removing group channel c
    means removing, from every slice, the positions whose ``channel`` is c.
    ``reaches_output`` is True when the channels are the network's outputs (the logits).
    ``root`` names the prunable layer the group was traced from."""

    root: str
    width: int
    slices: tuple[ParameterSlice, ...]
    reaches_output: bool

    def role(self, role: str) -> list[ParameterSlice]:
        """The slices playing ``role`` (``"producer"``, ``"consumer"`` or ``"affine"``)."""
        return [found for found in self.slices if found.role == role]


def channel_groups(model: nn.Module, example: Tensor) -> list[CoupledChannels]:
    """Every channel group of ``model``, traced on ``example`` (a batch of one or two inputs,
    e.g. ``sample[0][0][:2]``); every prunable layer (Conv2d with ``groups == 1``, Linear) is
    a producer in exactly one group. ``model`` is left as it was."""
    structure = channel_structure(model, example)
    parameters = dict(model.named_parameters())
    groups = []
    for group in structure.groups:
        slices = []
        for member in group.members:
            dims = {PRODUCER: 0, AFFINE: 0, CONSUMER: 1}[member.role]
            prefix = f"{member.module}." if member.module else ""
            for local in ("weight", "bias"):
                name = prefix + local
                if name in parameters and (local == "weight" or member.role != CONSUMER):
                    slices.append(
                        ParameterSlice(name, dims, member.index, member.channel, member.role)
                    )
        groups.append(CoupledChannels(group.root, group.width, tuple(slices), group.reaches_output))
    return groups
