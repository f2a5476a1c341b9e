"""Channel dependencies between prunable layers (found with torch.fx) and structured propagation.

A *link* ties a producer layer's output channels to the BN layers and consumer layers that see
exactly those channels through zero-preserving ops (ReLU, pooling, dropout, flatten). A removed
output filter takes its bias and BN scale/shift along and, when the link is *closed*, the
consumers' input slices; a channel dead in every consumer takes its producer filter along.
Where a channel goes through add, cat or anything unknown, the link is open: propagation stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.fx
import torch.nn.functional as F
from torch import Tensor, nn

from robustprune.pruning.masks import Masks, is_prunable, prunable_modules, weight_name

log = logging.getLogger(__name__)

_ZERO_PRESERVING_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Hardtanh,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Dropout,
    nn.Dropout2d,
    nn.Identity,
)
_ZERO_PRESERVING_FUNCTIONS = {
    F.relu,
    torch.relu,
    F.relu6,
    F.leaky_relu,
    F.elu,
    F.gelu,
    F.silu,
    torch.tanh,
    F.hardtanh,
    F.max_pool2d,
    F.avg_pool2d,
    F.adaptive_avg_pool2d,
    F.adaptive_max_pool2d,
    F.dropout,
}
_ZERO_PRESERVING_METHODS = {"relu", "relu_", "tanh", "contiguous", "clone"}
_FLATTENING_METHODS = {"flatten", "view", "reshape"}
_SHAPE_QUERIES = {"size", "dim"}


@dataclass(frozen=True)
class ChannelLink:
    """The ``width`` output channels of ``producer``, the BNs on their path and their consumers.

    ``consumers`` holds ``(module name, inputs per channel)``: 1, or H*W for a Linear after flatten.
    ``closed`` is False when a channel also reaches an add, a cat, the output or an unknown op.
    """

    producer: str
    width: int
    affines: tuple[str, ...]
    consumers: tuple[tuple[str, int], ...]
    closed: bool


class ChannelStructure:
    """Channel links of one model and the propagation of structured removals over them."""

    def __init__(
        self, model: nn.Module, links: dict[str, ChannelLink], output_layers: set[str], traced: bool
    ) -> None:
        self.modules = prunable_modules(model)
        self.links = links
        self.output_layers = frozenset(output_layers)
        self.traced = traced
        self.feeders = {
            consumer: link.producer
            for link in links.values()
            if link.closed
            for consumer, _ in link.consumers
        }
        self._parameters = dict(model.named_parameters())

    def input_factor(self, consumer: str) -> int:
        """Inputs per channel of ``consumer`` as seen from its producer (1 unless after a flatten)."""
        producer = self.feeders.get(consumer)
        if producer is None:
            return 1
        return dict(self.links[producer].consumers)[consumer]

    def propagate(self, masks: Masks) -> Masks:
        """``masks`` closed under structured removal (a new dict; bias and BN masks are added)."""
        result = {name: mask.clone() for name, mask in masks.items()}
        while True:
            before = sum(int(mask.sum()) for mask in result.values())
            for link in self.links.values():
                self._propagate_link(link, result)
            after = sum(int(mask.sum()) for mask in result.values())
            if after == before:
                return result

    def _weight_mask(self, module_name: str, masks: Masks) -> Tensor:
        name = weight_name(module_name)
        if name not in masks:
            masks[name] = torch.ones_like(self._parameters[name], dtype=torch.bool)
        return masks[name]

    def _propagate_link(self, link: ChannelLink, masks: Masks) -> None:
        producer_mask = self._weight_mask(link.producer, masks)
        dead = ~producer_mask.reshape(link.width, -1).any(dim=1)
        if link.closed and link.consumers:
            dead_everywhere = torch.ones_like(dead)
            for consumer, factor in link.consumers:
                alive = input_channels_alive(self._weight_mask(consumer, masks), link.width, factor)
                dead_everywhere &= ~alive
            dead |= dead_everywhere
        if not bool(dead.any()):
            return
        producer_mask[dead] = False
        keep = ~dead
        for owner in (link.producer, *link.affines):
            for suffix in ("weight", "bias"):
                name = f"{owner}.{suffix}"
                if owner == link.producer and suffix == "weight":
                    continue
                if name in self._parameters and self._parameters[name] is not None:
                    current = masks.get(name)
                    masks[name] = keep.clone() if current is None else current & keep
        if link.closed:
            for consumer, factor in link.consumers:
                kill_input_channels(self._weight_mask(consumer, masks), dead, factor)


def input_channels_alive(weight_mask: Tensor, width: int, factor: int = 1) -> Tensor:
    """Bool[width]: whether any entry of ``weight_mask`` reading input channel c is kept."""
    columns = weight_mask.transpose(0, 1).reshape(weight_mask.shape[1], -1).any(dim=1)
    return columns.reshape(width, factor).any(dim=1)


def kill_input_channels(weight_mask: Tensor, dead: Tensor, factor: int = 1) -> None:
    """Set to False, in place, every entry of ``weight_mask`` reading a channel where ``dead``."""
    columns = dead.repeat_interleave(factor)
    weight_mask[:, columns] = False


def fit_to_target(
    make_masks: Callable[[float], Masks],
    achieved: Callable[[Masks], float],
    low: float,
    high: float,
    target: float,
    integer: bool = False,
    iterations: int = 60,
) -> Masks:
    """Bisect a knob in [low, high] (higher removes more) for the masks whose achieved ratio is
    closest to ``target``; the reference's root-finding of the nominal ratio."""
    low_masks = make_masks(low)
    low_ratio = achieved(low_masks)
    if low_ratio >= target:
        return low_masks
    high_masks = make_masks(high)
    high_ratio = achieved(high_masks)
    if high_ratio <= target:
        return high_masks
    for _ in range(iterations):
        if integer and high - low <= 1:
            break
        middle = (low + high) // 2 if integer else (low + high) / 2
        masks = make_masks(middle)
        ratio = achieved(masks)
        if ratio < target:
            low, low_masks, low_ratio = middle, masks, ratio
        else:
            high, high_masks, high_ratio = middle, masks, ratio
        if abs(ratio - target) < 1e-6:
            break
    return low_masks if target - low_ratio <= high_ratio - target else high_masks


def channel_structure(model: nn.Module) -> ChannelStructure:
    """Trace ``model`` with torch.fx and find its channel links and output layers.

    A model that fx cannot trace gets open links only (a removed filter takes its own bias
    along, nothing else), with a warning.
    """
    modules = prunable_modules(model)
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as error:  # noqa: BLE001 - any tracing failure falls back the same way
        log.warning(
            "torch.fx cannot trace %s (%s); structured removals will not propagate",
            type(model).__name__,
            error,
        )
        links = {
            name: ChannelLink(name, _out_width(module), (), (), False)
            for name, module in modules.items()
        }
        return ChannelStructure(model, links, {list(modules)[-1]} if modules else set(), False)

    named = dict(model.named_modules())
    calls: dict[str, list[torch.fx.Node]] = {}
    for node in graph.nodes:
        if node.op == "call_module" and node.target in modules:
            calls.setdefault(node.target, []).append(node)
    reused = {name for name, nodes in calls.items() if len(nodes) > 1}
    links = {}
    outputs = set()
    for name, nodes in calls.items():
        module = modules[name]
        width = _out_width(module)
        affines, consumers, closed = _follow(nodes[0], named, width, isinstance(module, nn.Linear))
        closed = closed and name not in reused and not any(c in reused for c, _ in consumers)
        links[name] = ChannelLink(name, width, tuple(affines), tuple(consumers), closed)
        if _reaches_output(nodes, named):
            outputs.add(name)
    return ChannelStructure(model, links, outputs, True)


def _out_width(module: nn.Module) -> int:
    return module.out_channels if isinstance(module, nn.Conv2d) else module.out_features


def _follow(
    start: torch.fx.Node, named: dict[str, nn.Module], width: int, flat: bool
) -> tuple[list[str], list[tuple[str, int]], bool]:
    """Walk forward from ``start`` through zero-preserving ops; collect BNs and consumers."""
    affines: list[str] = []
    consumers: list[tuple[str, int]] = []
    closed = True
    stack = [(start, flat)]
    seen = set()
    while stack:
        node, flattened = stack.pop()
        for user in node.users:
            if (user, flattened) in seen:
                continue
            seen.add((user, flattened))
            step = _classify(user, node, named, width, flattened)
            if step is None:
                closed = False
            elif step[0] == "consumer":
                consumers.append((user.target, step[1]))
            elif step[0] == "ignore":
                continue
            else:
                if step[0] == "affine":
                    affines.append(user.target)
                stack.append((user, step[1]))
    return affines, consumers, closed


def _classify(
    user: torch.fx.Node,
    source: torch.fx.Node,
    named: dict[str, nn.Module],
    width: int,
    flattened: bool,
) -> tuple[str, object] | None:
    """What ``user`` does with ``source``'s channels: pass, affine, consumer, ignore, or None (stop)."""
    primary = bool(user.args) and user.args[0] is source
    if user.op == "call_module":
        module = named[user.target]
        if is_prunable(module) and primary:
            if isinstance(module, nn.Conv2d):
                return ("consumer", 1) if not flattened and module.in_channels == width else None
            if module.in_features % width == 0 and (flattened or module.in_features == width):
                return ("consumer", module.in_features // width)
            return None
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)) and primary:
            return ("affine", flattened) if module.num_features == width else None
        if isinstance(module, nn.Flatten) and primary:
            return ("pass", True)
        if isinstance(module, _ZERO_PRESERVING_MODULES) and primary:
            return ("pass", flattened)
        return None
    if user.op == "call_function":
        if user.target is getattr and primary:
            return ("ignore", None)
        if user.target in _ZERO_PRESERVING_FUNCTIONS and primary:
            return ("pass", flattened)
        if user.target is torch.flatten and primary:
            return ("pass", True)
        return None
    if user.op == "call_method" and primary:
        if user.target in _SHAPE_QUERIES:
            return ("ignore", None)
        if user.target in _ZERO_PRESERVING_METHODS:
            return ("pass", flattened)
        if user.target in _FLATTENING_METHODS:
            return ("pass", True)
        if user.target in ("mean", "amax"):
            dims = user.args[1] if len(user.args) > 1 else user.kwargs.get("dim")
            dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
            if dims and 1 not in dims and not user.kwargs.get("keepdim", False):
                return ("pass", True)
        return None
    return None


def _reaches_output(starts: list[torch.fx.Node], named: dict[str, nn.Module]) -> bool:
    """True when the graph output is reachable from ``starts`` without another prunable layer."""
    stack = list(starts)
    seen = set()
    while stack:
        node = stack.pop()
        for user in node.users:
            if user in seen:
                continue
            seen.add(user)
            if user.op == "output":
                return True
            if user.op == "call_module" and is_prunable(named[user.target]):
                continue
            stack.append(user)
    return False
