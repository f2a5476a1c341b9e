"""Channel groups of a network (Torch-Pruning's dependency graph) and structured propagation.

A *channel group* is a set of channels that must live or die together because they meet in a
residual add or are stitched together by a concatenation: the output filters of every layer
that writes into the stream (*producers*), the per-channel parameters on the way (BN scale and
shift, depthwise convs: *affines*) and the input slices of every layer that reads the stream
(*consumers*). Each group has ``width`` channels, and every member maps its own indices onto
them (a concatenation shifts them; a flatten before a Linear repeats each channel H*W times).

Propagation closes a set of weight keep-masks under structured removal, to a fixed point. It
follows the data flow inside a group: a consumer reads what the producers *upstream* of it
wrote (in a residual stream, the stem and the blocks before it; not the blocks after it).
- a consumer's slice of a channel that no producer upstream of it still writes no longer
  depends on the input (what is left is biases and BN shifts, a constant): the slice goes;
- a producer's filter for a channel that no consumer downstream of it still reads goes too,
  unless the group reaches the network's output.
These are the whole-unit rules the data probe of dead.py applies (constant input channels,
filters with zero gradient), decided here from the graph alone wherever the graph decides
them, so a knob search sees most dead structure without a pass over S.
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
    """Channels coupled through adds and concatenations, ``width`` of them.

    ``reads`` holds the (producer, consumer) pairs where the consumer reads what the producer
    writes, with no prunable layer between; a member missing from every pair is taken to be
    linked to every member of the other role (the group-wide rule)."""

    root: str
    width: int
    members: tuple[GroupMember, ...]
    reaches_output: bool
    reads: frozenset[tuple[str, str]] = frozenset()

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
            kill_rows, kill_columns = flat.unread(rows, columns), flat.unwritten(rows, columns)
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
    """Every group's producer-consumer links as flat index vectors over the vector of all
    layers' output rows and the vector of all layers' input columns: ``pair_rows[i]`` writes
    the channel that ``pair_columns[i]`` reads."""

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
        self.pair_rows, self.pair_columns = _empty(), _empty()
        self.producer_rows = torch.zeros(position[0], dtype=torch.bool)
        self.always_used = torch.zeros(position[0], dtype=torch.bool)
        self.consumer_columns = torch.zeros(position[1], dtype=torch.bool)
        for group in groups:
            self._link(group)

    def _link(self, group: ChannelGroup) -> None:
        """Add ``group``'s producer rows, consumer columns and (row, column) links."""
        producers, consumers = group.role(PRODUCER), group.role(CONSUMER)
        rows = {p.module: p.index + self.row_start[weight_name(p.module)] for p in producers}
        columns = {c.module: c.index + self.column_start[weight_name(c.module)] for c in consumers}
        read_by: dict[str, list[str]] = {producer.module: [] for producer in producers}
        for consumer in consumers:
            upstream = [p for p in producers if (p.module, consumer.module) in group.reads]
            for producer in upstream or producers:
                read_by[producer.module].append(consumer.module)
                same = consumer.channel[:, None] == producer.channel[None, :]
                column, row = same.nonzero(as_tuple=True)
                self.pair_columns = torch.cat([self.pair_columns, columns[consumer.module][column]])
                self.pair_rows = torch.cat([self.pair_rows, rows[producer.module][row]])
            self.consumer_columns[columns[consumer.module]] = True
        open_end = group.reaches_output or not consumers
        for producer in producers:
            self.producer_rows[rows[producer.module]] = True
            if open_end or not read_by[producer.module]:
                self.always_used[rows[producer.module]] = True

    def alive(self, masks: Masks) -> tuple[Tensor, Tensor]:
        """(every layer's rows with a kept entry, every layer's columns with one), flat, on CPU."""
        rows = [masks[name].reshape(masks[name].shape[0], -1).any(dim=1) for name in self.layers]
        columns = [
            masks[name].transpose(0, 1).reshape(masks[name].shape[1], -1).any(dim=1)
            for name in self.layers
        ]
        return torch.cat(rows).cpu(), torch.cat(columns).cpu()

    def unwritten(self, rows: Tensor, columns: Tensor) -> Tensor:
        """Kept consumer columns that no kept producer row upstream of them writes (flat)."""
        written = torch.zeros_like(columns)
        written[self.pair_columns[rows[self.pair_rows]]] = True
        return columns & self.consumer_columns & ~written

    def unread(self, rows: Tensor, columns: Tensor) -> Tensor:
        """Kept producer rows that no kept consumer column downstream of them reads (flat)."""
        read = self.always_used.clone()
        read[self.pair_rows[columns[self.pair_columns]]] = True
        return rows & self.producer_rows & ~read

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


def _empty() -> Tensor:
    return torch.zeros(0, dtype=torch.long)


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
        consumers = {member.module for member in members if member.role == CONSUMER}
        downstream = {
            p: _downstream(graph.module2node[modules[p]], modules, names) for p in producers
        }
        reaches = any(reaches_output for _readers, reaches_output in downstream.values())
        reads = frozenset(
            (producer, consumer)
            for producer, (readers, _reaches) in downstream.items()
            for consumer in readers
            if consumer in consumers
        )
        groups.append(ChannelGroup(name, width, tuple(members), reaches, reads))
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


def _downstream(node, modules: dict[str, nn.Module], names: dict) -> tuple[set[str], bool]:
    """(the prunable layers that read ``node``'s output with no other prunable layer between,
    whether the network's output is reachable from ``node`` that way)."""
    stack, seen, readers, reaches_output = [node], set(), set(), False
    while stack:
        current = stack.pop()
        if not current.outputs:
            reaches_output = True
        for user in current.outputs:
            if id(user) in seen:
                continue
            seen.add(id(user))
            module = user.module
            if isinstance(module, nn.Module) and is_prunable(module):
                if names.get(module) in modules:
                    readers.add(names[module])
                continue
            stack.append(user)
    return readers, reaches_output


def _out_width(module: nn.Module) -> int:
    return module.out_channels if isinstance(module, nn.Conv2d) else module.out_features
