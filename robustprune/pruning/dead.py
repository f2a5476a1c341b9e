"""Dead structure, found from data after every prune step, per method family as the reference
implementation (torchprune) does it.

After masking, some kept parameters can no longer change the output on the sample set S. One
forward and backward pass over S of the masked network gives every parameter's gradient and,
per prunable layer, which input channels do not depend on the input (every sample of S gives
them the same value at every position: their producers are all removed, or a ReLU never fires).
- Weight methods (WT, SiPP; torchprune's ``WeightNet``): every entry of every parameter whose
  gradient is identically zero goes, and the consumer slices of constant input channels.
- Filter methods (FT, PFP and any pruner built with a ``ChannelStructure``; torchprune's
  ``FilterNet``): only whole units go. An output filter of a prunable layer whose gradient over
  S is all zero, and a layer's input channel that is constant over S; then structured
  propagation over the channel groups. Never a single weight inside a kept filter and kept
  channel, and never a bias or BN entry, so the masks stay exactly filter/channel structured.
Removing dead structure can make more structure dead, so the rules run to a fixed point. The
methods then search their knob again, so the freed budget goes to live structure
(``budget.fit_live`` over masks that went through ``DeadStructure.remove``).

The gradient is that of a fixed random projection of the outputs, not of the loss: a sample
classified with a saturated softmax would give an exactly zero loss gradient and hide live
weights. Sums are taken batch by batch in absolute value, so nothing cancels.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from robustprune.pruning.masks import Masks, kept_entries, prunable_modules, weight_name
from robustprune.pruning.structure import ChannelStructure

MAX_ROUNDS = 20


class DeadStructure:
    """Removes dead structure from keep-masks of ``model``, judged on ``sample``.

    Without a ``structure`` (weight methods) single entries of any parameter whose gradient is
    zero go; with one (filter methods) only whole output filters of prunable layers whose
    gradient is zero, followed by structured propagation. Both remove the consumer slices of
    input-independent channels. Without a sample nothing is found.
    """

    def __init__(
        self, model: nn.Module, sample: list, structure: ChannelStructure | None = None
    ) -> None:
        self.model = model
        self.sample = sample
        self.structure = structure
        self.layers = prunable_modules(model)
        self._projections: dict[tuple[int, ...], Tensor] = {}
        self._settled: dict[int, Masks] = {}  # results known to hold no dead structure, by id

    def remove(self, masks: Masks, rounds: int = MAX_ROUNDS) -> Masks:
        """``masks`` with every dead parameter removed too (a new dict): rounds of one pass over
        S each until nothing changes, at most ``rounds`` (with 1, what one pass finds, unchecked).

        A result whose last pass found nothing is a fixed point and is remembered: handing it
        back costs no pass (a knob search re-checks its chosen masks that way)."""
        if self._settled.get(id(masks)) is masks:
            return {name: mask.clone() for name, mask in masks.items()}
        current = self._propagate({name: mask.clone() for name, mask in masks.items()})
        if not self.sample:
            return current
        for _ in range(rounds):
            gradients, constant = self.probe(current)
            updated = self._apply(current, gradients, constant)
            updated = self._propagate(updated)
            _keep_every_layer(updated, current, self.layers, self.structure is not None)
            if kept_entries(updated) == kept_entries(current):
                self._settled[id(updated)] = updated
                return updated
            current = updated
        return current

    def probe(self, masks: Masks) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """One pass over S of the masked network: the absolute gradient of every parameter
        (summed over batches) and, per prunable layer, which input channels are constant."""
        parameters = dict(self.model.named_parameters())
        leaves = {}
        for name, parameter in parameters.items():
            value = parameter.detach()
            if name in masks:
                value = value * masks[name].to(device=value.device, dtype=value.dtype)
            leaves[name] = value.requires_grad_(True)
        state = {**leaves, **dict(self.model.named_buffers())}
        gradients = {name: torch.zeros_like(leaf) for name, leaf in leaves.items()}
        low: dict[str, Tensor] = {}
        high: dict[str, Tensor] = {}
        samples = 0

        def record(name: str):
            def hook(_module: nn.Module, inputs: tuple) -> None:
                x = inputs[0].detach()
                x = x.reshape(-1, x.shape[-1]) if x.dim() != 4 else x
                batch_low, batch_high = x.amin(dim=0), x.amax(dim=0)
                low[name] = torch.minimum(low[name], batch_low) if name in low else batch_low
                high[name] = torch.maximum(high[name], batch_high) if name in high else batch_high

            return hook

        handles = [
            module.register_forward_pre_hook(record(name)) for name, module in self.layers.items()
        ]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                for inputs, _targets in self.sample:
                    samples += inputs.shape[0]
                    outputs = _tensors(functional_call(self.model, state, (inputs,)))
                    projection = sum(
                        (output.float() * self._projection(output.shape, output.device)).sum()
                        for output in outputs
                    )
                    found = torch.autograd.grad(
                        projection, list(leaves.values()), allow_unused=True
                    )
                    for name, gradient in zip(leaves, found, strict=True):
                        if gradient is not None:
                            gradients[name] += gradient.abs()
        finally:
            self.model.train(was_training)
            for handle in handles:
                handle.remove()
        constant = {}
        if samples >= 2:
            for name in self.layers:
                if name in low:
                    same = low[name] == high[name]
                    constant[name] = same.reshape(same.shape[0], -1).all(dim=1)
        return gradients, constant

    def _apply(
        self, masks: Masks, gradients: dict[str, Tensor], constant: dict[str, Tensor]
    ) -> Masks:
        result = {name: mask.clone() for name, mask in masks.items()}
        if self.structure is None:
            for name, gradient in gradients.items():
                result[name] = _and(result.get(name), gradient != 0)
        else:
            for layer in self.layers:
                gradient = gradients[weight_name(layer)]
                live_filters = gradient.reshape(gradient.shape[0], -1).ne(0).any(dim=1)
                live = live_filters.view(-1, *([1] * (gradient.dim() - 1))).expand_as(gradient)
                result[weight_name(layer)] = _and(result.get(weight_name(layer)), live)
        for layer, constant_inputs in constant.items():
            if not bool(constant_inputs.any()):
                continue
            name = weight_name(layer)
            mask = result.get(name)
            if mask is None:
                mask = torch.ones_like(gradients[name], dtype=torch.bool)
            mask = mask.clone()
            mask[:, constant_inputs.to(mask.device)] = False
            result[name] = mask
        return result

    def _propagate(self, masks: Masks) -> Masks:
        return self.structure.propagate(masks) if self.structure is not None else masks

    def _projection(self, shape: torch.Size, device: torch.device) -> Tensor:
        key = tuple(shape)
        if key not in self._projections:
            generator = torch.Generator().manual_seed(0)
            self._projections[key] = torch.randn(key, generator=generator)
        return self._projections[key].to(device)


def _tensors(output) -> Iterable[Tensor]:
    """Every floating tensor in a model's output (a tensor, a tuple/list, or a dict)."""
    if isinstance(output, Tensor):
        return [output] if output.is_floating_point() else []
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        return [t for item in output for t in _tensors(item)]
    return []


def _and(mask: Tensor | None, live: Tensor) -> Tensor:
    return live.clone() if mask is None else mask & live.to(mask.device)


def _keep_every_layer(
    updated: Masks, previous: Masks, layers: dict[str, nn.Module], structured: bool
) -> None:
    """A layer that would lose every weight keeps one (the contract empties no layer): its
    largest-magnitude entry kept before this round, else its largest-magnitude entry still
    nonzero in the model, never one an earlier step removed. ``structured`` keeps that entry's
    whole kernel slice (one filter reading one channel), so the mask stays filter/channel
    structured. The choice is stable, so the fixed point is still reached."""
    for layer, module in layers.items():
        name = weight_name(layer)
        if name not in updated or bool(updated[name].any()):
            continue
        magnitude = module.weight.detach().abs().to(updated[name].device, torch.float64)
        before = previous.get(name)
        if before is not None:
            magnitude = magnitude + before.to(magnitude.dtype) * (1.0 + float(magnitude.max()))
        keep = torch.zeros_like(updated[name])
        keep.view(-1)[int(torch.argmax(magnitude))] = True
        if structured and keep.dim() > 2:
            position = keep.nonzero()[0]
            keep[position[0], position[1]] = True
        updated[name] = keep
