"""The sensitivity engine SiPP and PFP share: batched, hook-driven, bounded memory.

For a layer with weight W (a conv unfolded into patches) and input patch a >= 0,
z+_f = sum_k W+_fk a_k and z-_f = sum_k W-_fk a_k (bias excluded), and
g_fk(x, p) = max(W+_fk a_k / z+_f, W-_fk a_k / z-_f), 0 where the denominator is ~0.
Inputs with negative entries are split into the doubled batch [a+; -a-].
SiPP scores each weight by max over x of mean over patches of g (``WeightScores``); PFP scores
each input channel by the max of g over x, filters, patches and the channel's kernel positions
(``ChannelScores``, computed by bound and refine in refine.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustprune.pruning.denominators import layer_denominators, reciprocal_denominators
from robustprune.pruning.masks import prunable_modules
from robustprune.pruning.refine import channel_maxima

DEFAULT_MAX_ELEMENTS = 1 << 24
"""Largest intermediate tensor (in elements) one chunk may allocate: 64 MiB in float32."""


@dataclass
class LayerSensitivity:
    """Scores of one layer: weight-shaped (SiPP) or one per input channel (PFP), in [0, 1]."""

    scores: Tensor
    patches: int  # output patches per input (H_out * W_out for a conv, 1 for a Linear on N x K)


class ScoreKind(Protocol):
    """What the engine asks of a kind of score: how many inputs one chunk may hold, the max
    over one chunk, and the final shape of a layer's scores."""

    def chunk_size(self, first: Tensor, filters: int, max_elements: int) -> int:
        """Inputs per chunk, from the patches of the first input (``first``, 1 x K x P, or its
        doubled batch) and the layer's filter count, so a chunk stays within ``max_elements``."""
        ...

    def chunk_max(
        self, module: nn.Module, inputs: Tensor, patches: Tensor, running: Tensor | None
    ) -> Tensor:
        """The scores' max over one chunk: the layer's nonnegative ``inputs`` and their
        ``patches``; ``running`` is the max so far (or None)."""
        ...

    def final(self, scores: Tensor, weight: Tensor) -> Tensor:
        """A layer's folded scores in their final shape."""
        ...


@dataclass(frozen=True)
class WeightScores:
    """SiPP's s_fk, weight-shaped: the max over inputs of the mean over patches of g_fk."""

    def chunk_size(self, first: Tensor, filters: int, max_elements: int) -> int:
        entries, patch_count = first.shape[1:]
        # patches; z; per-sample F x K sums; x2: a doubled batch
        per_sample = entries * patch_count + 4 * filters * (entries + patch_count)
        return max(1, max_elements // (2 * per_sample))

    def chunk_max(
        self, module: nn.Module, inputs: Tensor, patches: Tensor, running: Tensor | None
    ) -> Tensor:
        # z by a matmul over the patches: the layer's own convolution is no faster for SiPP
        # and would move its scores by rounding, so ties near the threshold could flip
        return mean_ratio_maxima(patches, _flat(module.weight.detach()))

    def final(self, scores: Tensor, weight: Tensor) -> Tensor:
        return scores.view_as(weight)


@dataclass(frozen=True)
class ChannelScores:
    """PFP's s_j, one per input channel: the exact max of g over inputs, filters, patches and
    the channel's kernel entries (the running max prunes what bound and refine must compute)."""

    def chunk_size(self, first: Tensor, filters: int, max_elements: int) -> int:
        entries, patch_count = first.shape[1:]
        # patches, bounds, active blocks; z and its powers (first holds the doubled batch)
        per_sample = 4 * entries * patch_count + 8 * filters * patch_count
        return max(1, max_elements // (per_sample * first.shape[0]))

    def chunk_max(
        self, module: nn.Module, inputs: Tensor, patches: Tensor, running: Tensor | None
    ) -> Tensor:
        weight = module.weight.detach()
        denominators = layer_denominators(module, inputs)  # one convolution: no matmul for z
        return channel_maxima(patches, _flat(weight), weight.shape[1], running, denominators)

    def final(self, scores: Tensor, weight: Tensor) -> Tensor:
        return scores


def weight_sensitivities(
    model: nn.Module,
    sample: Iterable[tuple[Tensor, Tensor]],
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> dict[str, LayerSensitivity]:
    """SiPP's s_fk = max over x in S of (mean over patches of g_fk), per prunable layer name."""
    return _collect(model, sample, WeightScores(), max_elements)


def channel_sensitivities(
    model: nn.Module,
    sample: Iterable[tuple[Tensor, Tensor]],
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> dict[str, LayerSensitivity]:
    """PFP's s_j = max over x, filters, patches and kernel positions of channel j of g_fk."""
    return _collect(model, sample, ChannelScores(), max_elements)


def _collect(
    model: nn.Module,
    sample: Iterable[tuple[Tensor, Tensor]],
    kind: ScoreKind,
    max_elements: int,
) -> dict[str, LayerSensitivity]:
    """Run ``sample`` through ``model`` once; each prunable layer's hook folds its batch into a max."""
    results: dict[str, LayerSensitivity] = {}
    modules = prunable_modules(model)

    def hook_for(name: str, module: nn.Module):
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
            activations = inputs[0].detach()
            first = input_patches(module, activations[:1])
            step = kind.chunk_size(first, module.weight.shape[0], max_elements)
            for start in range(0, activations.shape[0], step):
                batch = nonnegative_batch(activations[start : start + step])
                patches = layer_patches(module, batch)
                previous = results.get(name)
                chunk_max = kind.chunk_max(
                    module, batch, patches, None if previous is None else previous.scores
                )
                if previous is None:
                    results[name] = LayerSensitivity(chunk_max, patches.shape[-1])
                else:
                    torch.maximum(previous.scores, chunk_max, out=previous.scores)

        return hook

    handles = [
        module.register_forward_hook(hook_for(name, module)) for name, module in modules.items()
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            for inputs, _targets in sample:
                model(inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    for name, result in results.items():
        result.scores = kind.final(result.scores, modules[name].weight)
    return results


def input_patches(module: nn.Module, inputs: Tensor) -> Tensor:
    """Input patches as n x K x P, nonnegative: those of the doubled batch [a+; -a-] if any
    entry is < 0."""
    return layer_patches(module, nonnegative_batch(inputs))


def nonnegative_batch(inputs: Tensor) -> Tensor:
    """``inputs`` itself if no entry is < 0 (the common case after a ReLU), else the doubled
    batch [a+; -a-]: g is defined on nonnegative inputs, and a signed input's two halves are
    scored as two inputs (zero padding and the copies other padding modes make keep the sign)."""
    if inputs.numel() and bool(inputs.amin() < 0):  # one pass, no mask
        return torch.cat([inputs.clamp(min=0), (-inputs).clamp(min=0)])
    return inputs


def layer_patches(module: nn.Module, inputs: Tensor) -> Tensor:
    """The patches of a Conv2d (``conv_patches``) or Linear (its rows) as n x K x P."""
    if isinstance(module, nn.Conv2d):
        return conv_patches(module, inputs)
    return inputs.reshape(inputs.shape[0], -1, inputs.shape[-1]).transpose(1, 2)


def conv_patches(module: nn.Conv2d, inputs: Tensor) -> Tensor:
    """What ``F.unfold`` gives for ``module`` (n x C k_h k_w x H_out W_out, entries ordered as
    the flattened weight), built as one copy of a strided view of the padded input: the same
    values, several times faster than ``F.unfold`` on CPU."""
    mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
    padded = F.pad(inputs, module._reversed_padding_repeated_twice, mode=mode)
    windows = padded
    for dim, (size, stride, dilation) in enumerate(
        zip(module.kernel_size, module.stride, module.dilation, strict=True), start=2
    ):
        windows = windows.unfold(dim, dilation * (size - 1) + 1, stride)
    taps = windows[..., :: module.dilation[0], :: module.dilation[1]]  # n C H_out W_out k_h k_w
    count, _channels, rows, columns = taps.shape[:4]
    return taps.permute(0, 1, 4, 5, 2, 3).reshape(count, -1, rows * columns)


def mean_ratio_maxima(patches: Tensor, weight: Tensor) -> Tensor:
    """SiPP's kernel: max over the chunk of (mean over patches of g_fk), as F x K."""
    _count, k, p = patches.shape
    filters = weight.shape[0]
    magnitude, reciprocal = reciprocal_denominators(patches, weight)
    ratio_sums = torch.bmm(reciprocal, patches.transpose(1, 2))  # n x 2F x K: sum_p a_k / |z_f|
    g_mean = (magnitude * ratio_sums).view(-1, 2, filters, k).sum(dim=1) / p
    return g_mean.amax(dim=0)


def _flat(weight: Tensor) -> Tensor:
    """A layer's weight as F x K (a conv's filters flattened)."""
    return weight.reshape(weight.shape[0], -1)
