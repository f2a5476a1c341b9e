"""Channel groups of a network (Torch-Pruning's dependency graph) and structured propagation.

A *channel group* is a set of channels that must live or die together because they meet in a
residual add or are stitched together by a concatenation: the output filters of every layer
that writes into the stream (*producers*), the per-channel parameters on the way (BN scale and
shift, depthwise convs: *affines*) and the input slices of every layer that reads the stream
(*consumers*). Each group has ``width`` channels, and every member maps its own indices onto
them (a concatenation shifts them; a flatten before a Linear repeats each channel H*W times).

Propagation closes a set of weight keep-masks under structured removal, to a fixed point:
- a group channel whose producers are all removed no longer depends on the input (what is left
  is its biases and BN shifts, a constant): every consumer slice of it goes;
- a group channel that every consumer dropped takes all its producers' filters along, unless
  the channel reaches the network's output.
Only weights of prunable layers are masked. Biases and BN scale/shift of removed channels stay,
as in the reference (torchprune masks layer weights only, method/base/base_net.py): they are
retrained and count as kept in the prune ratio; ``compact`` drops them physically.

The same graph serves ``compact`` (physical removal, compact.py). Torch-Pruning traces the
network with an example input, so the structure needs one (the sample set's first batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustprune.device import model_device
from robustprune.pruning.masks import (
    Masks,
    is_prunable,
    prunable_modules,
    weight_name,
)

PRODUCER, CONSUMER, AFFINE = "producer", "consumer", "affine"


@dataclass(frozen=True)
class GroupMember:
    """One module's share of a channel group.

    ``index`` are the member's own channel indices (output rows for producers and affines,
    input columns for consumers); ``channel`` is the group channel each of them belongs to.
    """

    module: str
    role: str
    index: Tensor
    channel: Tensor


@dataclass(frozen=True)
class ChannelGroup:
    """Channels coupled through adds and concatenations, ``width`` of them."""

    root: str
    width: int
    members: tuple[GroupMember, ...]
    reaches_output: bool

    def role(self, role: str) -> list[GroupMember]:
        """The members playing ``role`` (PRODUCER, CONSUMER or AFFINE)."""
        return [member for member in self.members if member.role == role]


class ChannelStructure:
    """The channel groups of one model and the propagation of structured removals over them."""

    def __init__(self, model: nn.Module, groups: list[ChannelGroup]) -> None:
        self.modules = prunable_modules(model)
        self.groups = groups
        self.output_layers = frozenset(
            member.module
            for group in groups
            if group.reaches_output
            for member in group.role(PRODUCER)
        )
        self._parameters = dict(model.named_parameters())
        self._input_factors = _input_factors(self.modules, groups)
        self._flat: _FlatMembers | None = None

    def input_factor(self, consumer: str) -> int:
        """Input columns per group channel of ``consumer`` (1 unless a Linear after a flatten)."""
        return self._input_factors.get(consumer, 1)

    def propagate(self, masks: Masks) -> Masks:
        """``masks`` closed under structured removal (a new dict; only prunable layers' weight
        masks change or are added, biases and BN are never masked).

        Every group is judged at once per round, over flat vectors of all layers' rows and
        columns: a few tensor operations per layer instead of a dozen per group member (the
        knob searches call this tens of times per step). Each round only removes, and removing
        more never revives a channel, so the rounds reach the same fixed point as judging one
        group after the other would.
        """
        result = {name: mask.clone() for name, mask in masks.items()}
        flat = self._flat_members()
        for name in flat.layers:
            self._mask(name, result)
        while True:
            rows, columns = flat.alive(result)
            dead = ~(flat.produced(rows) & flat.consumed(columns))
            kill_rows = torch.zeros_like(rows)
            kill_rows[flat.producer_rows[dead[flat.producer_channels]]] = True
            kill_columns = torch.zeros_like(columns)
            kill_columns[flat.consumer_columns[dead[flat.consumer_channels]]] = True
            kill_rows &= rows
            kill_columns &= columns
            if not bool(kill_rows.any() or kill_columns.any()):
                return result
            flat.remove(result, kill_rows, kill_columns)

    def _flat_members(self) -> _FlatMembers:
        if self._flat is None:
            self._flat = _FlatMembers(self.groups, self._parameters)
        return self._flat

    def _mask(self, name: str, masks: Masks) -> Tensor:
        if name not in masks:
            masks[name] = torch.ones_like(self._parameters[name], dtype=torch.bool)
        return masks[name]


class _FlatMembers:
    """Every group's producers and consumers as flat index vectors: position ``p`` of the
    vector of all layers' output rows (or input columns) belongs to group channel ``c`` of the
    vector of all groups' channels."""

    def __init__(self, groups: list[ChannelGroup], parameters: dict[str, Tensor]) -> None:
        layers = list(
            dict.fromkeys(
                weight_name(member.module)
                for group in groups
                for member in group.members
                if member.role != AFFINE
            )
        )
        self.layers = layers
        self.shapes = {name: parameters[name].shape for name in layers}
        row_start, column_start, position = {}, {}, [0, 0]
        for name in layers:
            row_start[name], column_start[name] = position
            position[0] += self.shapes[name][0]
            position[1] += self.shapes[name][1]
        self.row_start, self.column_start = row_start, column_start
        producer_rows, producer_channels, consumer_columns, consumer_channels = [], [], [], []
        always_consumed, offset = [], 0
        for group in groups:
            for member in group.members:
                name = weight_name(member.module)
                if member.role == PRODUCER:
                    producer_rows.append(member.index + row_start[name])
                    producer_channels.append(member.channel + offset)
                elif member.role == CONSUMER:
                    consumer_columns.append(member.index + column_start[name])
                    consumer_channels.append(member.channel + offset)
            open_end = group.reaches_output or not group.role(CONSUMER)
            always_consumed.append(torch.full((group.width,), open_end, dtype=torch.bool))
            offset += group.width
        empty = torch.zeros(0, dtype=torch.long)
        self.producer_rows = torch.cat(producer_rows) if producer_rows else empty
        self.producer_channels = torch.cat(producer_channels) if producer_channels else empty
        self.consumer_columns = torch.cat(consumer_columns) if consumer_columns else empty
        self.consumer_channels = torch.cat(consumer_channels) if consumer_channels else empty
        self.always_consumed = (
            torch.cat(always_consumed) if always_consumed else torch.zeros(0, dtype=torch.bool)
        )

    def alive(self, masks: Masks) -> tuple[Tensor, Tensor]:
        """(every layer's rows with a kept entry, every layer's columns with one), flat, on CPU."""
        rows = [masks[name].reshape(masks[name].shape[0], -1).any(dim=1) for name in self.layers]
        columns = [
            masks[name].transpose(0, 1).reshape(masks[name].shape[1], -1).any(dim=1)
            for name in self.layers
        ]
        return torch.cat(rows).cpu(), torch.cat(columns).cpu()

    def produced(self, rows: Tensor) -> Tensor:
        """Group channels that some producer still writes."""
        produced = torch.zeros_like(self.always_consumed)
        produced[self.producer_channels[rows[self.producer_rows]]] = True
        return produced

    def consumed(self, columns: Tensor) -> Tensor:
        """Group channels that some consumer still reads, or that reach the output."""
        consumed = self.always_consumed.clone()
        consumed[self.consumer_channels[columns[self.consumer_columns]]] = True
        return consumed

    def remove(self, masks: Masks, kill_rows: Tensor, kill_columns: Tensor) -> None:
        """Set the rows and columns marked in the flat vectors to False, in place."""
        for name in self.layers:
            out_width, in_width = self.shapes[name][0], self.shapes[name][1]
            row_start, column_start = self.row_start[name], self.column_start[name]
            rows = kill_rows[row_start : row_start + out_width]
            columns = kill_columns[column_start : column_start + in_width]
            mask = masks[name]
            if bool(rows.any()):
                mask[rows.to(mask.device)] = False
            if bool(columns.any()):
                mask[:, columns.to(mask.device)] = False


def kill_input_channels(weight_mask: Tensor, dead: Tensor, factor: int = 1) -> None:
    """Set to False, in place, every entry of ``weight_mask`` reading a channel where ``dead``."""
    columns = dead.repeat_interleave(factor)
    weight_mask[:, columns] = False


def example_input(sample: list, pruner_name: str) -> Tensor:
    """Two inputs of the sample set: what the dependency graph is traced with."""
    if not sample:
        raise ValueError(
            f"pruner {pruner_name!r} needs the sample set S to trace the network's channel "
            "groups, got an empty sample; pass at least one (inputs, targets) batch"
        )
    return sample[0][0][:2]


def channel_structure(model: nn.Module, example: Tensor) -> ChannelStructure:
    """Build ``model``'s channel groups with Torch-Pruning's DependencyGraph, traced on ``example``.

    ``model`` is traced in eval mode and left in the mode it was in.
    """
    import torch_pruning  # lazy: importing it costs ~4 s, and only structured pruning needs it

    graph = _dependency_graph(model, example, torch_pruning)
    names = {module: name for name, module in model.named_modules()}
    modules = prunable_modules(model)
    groups = []
    grouped: set[str] = set()
    for name, module in modules.items():
        if name in grouped:
            continue
        width = _out_width(module)
        pruning_group = graph.get_pruning_group(
            module, out_channel_function(module, torch_pruning), idxs=list(range(width))
        )
        members = []
        for item in pruning_group:
            target = item.dep.target.module
            member_name = names.get(target) if isinstance(target, nn.Module) else None
            if member_name is None or not any(True for _ in target.parameters(recurse=False)):
                continue  # an op without parameters (add, cat, activation, reshape)
            is_output_side = graph.is_out_channel_pruning_fn(item.dep.handler)
            if member_name in modules:
                role = PRODUCER if is_output_side else CONSUMER
            else:
                role = AFFINE
            if role == PRODUCER:
                grouped.add(member_name)
            members.append(
                GroupMember(
                    member_name,
                    role,
                    torch.as_tensor(list(item.idxs), dtype=torch.long),
                    torch.as_tensor(list(item.root_idxs), dtype=torch.long),
                )
            )
        members = _merge_members(members)
        producers = [member.module for member in members if member.role == PRODUCER]
        reaches = any(_reaches_output(graph.module2node[modules[p]], modules) for p in producers)
        groups.append(ChannelGroup(name, width, tuple(members), reaches))
    return ChannelStructure(model, groups)


def dependency_graph(model: nn.Module, example: Tensor):
    """Torch-Pruning's ``DependencyGraph`` of ``model`` traced on ``example`` (what the channel
    groups are read from); ``model`` is traced in eval mode and left in the mode it was in."""
    import torch_pruning  # lazy, as in channel_structure

    return _dependency_graph(model, example, torch_pruning)


def out_channel_function(module: nn.Module, torch_pruning):
    """Torch-Pruning's function removing output channels of ``module`` (a Conv2d or Linear)."""
    if isinstance(module, nn.Conv2d):
        return torch_pruning.prune_conv_out_channels
    return torch_pruning.prune_linear_out_channels


def _dependency_graph(model: nn.Module, example: Tensor, torch_pruning):
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():  # the graph is traced through autograd
            return torch_pruning.DependencyGraph().build_dependency(
                model, example_inputs=example.to(model_device(model))
            )
    finally:
        model.train(was_training)


def _merge_members(members: list[GroupMember]) -> list[GroupMember]:
    """One member per (module, role): a module reached along several paths lists its indices once."""
    merged: dict[tuple[str, str], GroupMember] = {}
    for member in members:
        key = (member.module, member.role)
        if key not in merged:
            merged[key] = member
            continue
        known = merged[key]
        pairs = torch.unique(
            torch.stack(
                [torch.cat([known.index, member.index]), torch.cat([known.channel, member.channel])]
            ),
            dim=1,
        )
        merged[key] = GroupMember(member.module, member.role, pairs[0], pairs[1])
    return list(merged.values())


def _input_factors(modules: dict[str, nn.Module], groups: list[ChannelGroup]) -> dict[str, int]:
    """Input columns per group channel of every consumer that reads each channel repeatedly."""
    factors = {}
    for group in groups:
        for member in group.role(CONSUMER):
            channels = int(torch.unique(member.channel).numel())
            if channels and member.index.numel() % channels == 0:
                factor = member.index.numel() // channels
                if factor > 1:
                    factors[member.module] = factor
    return factors


def _reaches_output(node, modules: dict[str, nn.Module]) -> bool:
    """True when the network's output is reachable from ``node`` without another prunable layer."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if not current.outputs:
            return True
        for user in current.outputs:
            if id(user) in seen:
                continue
            seen.add(id(user))
            module = user.module
            if isinstance(module, nn.Module) and is_prunable(module):
                continue
            stack.append(user)
    return False


def _out_width(module: nn.Module) -> int:
    return module.out_channels if isinstance(module, nn.Conv2d) else module.out_features
