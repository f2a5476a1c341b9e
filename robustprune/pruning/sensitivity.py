"""The sensitivity engine SiPP and PFP share: batched, hook-driven, bounded memory.

For a layer with weight W (a conv unfolded into patches) and input patch a >= 0,
z+_f = sum_k W+_fk a_k and z-_f = sum_k W-_fk a_k (bias excluded), and
g_fk(x, p) = max(W+_fk a_k / z+_f, W-_fk a_k / z-_f), 0 where the denominator is ~0.
Inputs with negative entries are split into the doubled batch [a+; -a-].
SiPP scores each weight by max over x of mean over patches of g; PFP scores each input
channel by the max of g over x, filters, patches and the channel's kernel positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustprune.pruning.masks import prunable_modules

DENOMINATOR_EPS = 1e-12
"""|z| at or below this counts as a zero denominator (g is taken as 0 there)."""

DEFAULT_MAX_ELEMENTS = 1 << 24
"""Largest intermediate tensor (in elements) one chunk may allocate: 64 MiB in float32."""

PRODUCT_BLOCK = 1 << 18
"""Elements per block of PFP's max-product on CPU (cache-sized; larger blocks run slower)."""


@dataclass
class LayerSensitivity:
    """Scores of one layer: weight-shaped (SiPP) or one per input channel (PFP), in [0, 1]."""

    scores: Tensor
    patches: int  # output patches per input (H_out * W_out for a conv, 1 for a Linear on N x K)


def weight_sensitivities(model: nn.Module, sample: Iterable[tuple[Tensor, Tensor]],
                         max_elements: int = DEFAULT_MAX_ELEMENTS) -> dict[str, LayerSensitivity]:
    """SiPP's s_fk = max over x in S of (mean over patches of g_fk), per prunable layer name."""
    return _collect(model, sample, _weight_scores, max_elements)


def channel_sensitivities(model: nn.Module, sample: Iterable[tuple[Tensor, Tensor]],
                          max_elements: int = DEFAULT_MAX_ELEMENTS) -> dict[str, LayerSensitivity]:
    """PFP's s_j = max over x, filters, patches and kernel positions of channel j of g_fk."""
    return _collect(model, sample, _channel_scores, max_elements)


def _collect(model: nn.Module, sample: Iterable[tuple[Tensor, Tensor]],
             score: Callable[[Tensor, Tensor, int], Tensor],
             max_elements: int) -> dict[str, LayerSensitivity]:
    """Run ``sample`` through ``model`` once; each prunable layer's hook folds its batch into a max."""
    results: dict[str, LayerSensitivity] = {}

    def hook_for(name: str, module: nn.Module):
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
            weight = module.weight.detach()
            flat_weight = weight.reshape(weight.shape[0], -1)
            activations = inputs[0].detach()
            first = _patches(module, activations[:1])
            per_sample = first.shape[1] * first.shape[2] + 4 * flat_weight.shape[0] * sum(first.shape[1:])
            step = max(1, max_elements // (2 * per_sample))
            for start in range(0, activations.shape[0], step):
                patches = _patches(module, activations[start : start + step])
                chunk_max = score(patches, flat_weight, max_elements)
                previous = results.get(name)
                if previous is None:
                    results[name] = LayerSensitivity(chunk_max, patches.shape[-1])
                else:
                    torch.maximum(previous.scores, chunk_max, out=previous.scores)
        return hook

    handles = [module.register_forward_hook(hook_for(name, module))
               for name, module in prunable_modules(model).items()]
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
    modules = prunable_modules(model)
    for name, result in results.items():
        weight = modules[name].weight
        if score is _weight_scores:
            result.scores = result.scores.view_as(weight)
        else:  # per kernel entry -> per input channel
            result.scores = result.scores.view(weight.shape[1], -1).amax(dim=1)
    return results


def _patches(module: nn.Module, inputs: Tensor) -> Tensor:
    """Input patches as n x K x P, nonnegative: the doubled batch [a+; -a-] if any entry is < 0."""
    if isinstance(module, nn.Conv2d):
        mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
        padded = F.pad(inputs, module._reversed_padding_repeated_twice, mode=mode)
        patches = F.unfold(padded, module.kernel_size, dilation=module.dilation, stride=module.stride)
    else:
        patches = inputs.reshape(inputs.shape[0], -1, inputs.shape[-1]).transpose(1, 2)
    if bool((patches < 0).any()):
        patches = torch.cat([patches.clamp(min=0), (-patches).clamp(min=0)])
    return patches


def _reciprocal_denominators(patches: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """[W+; |W-|] (2F x K) and |1/z| for both signs (n x 2F x P), 0 where |z| is ~0."""
    stacked = torch.cat([weight.clamp(min=0), weight.clamp(max=0)])
    z = torch.matmul(stacked, patches)  # n x 2F x P
    reciprocal = torch.where(z.abs() > DENOMINATOR_EPS, 1.0 / z, torch.zeros_like(z)).abs_()
    return stacked.abs(), reciprocal


def _weight_scores(patches: Tensor, weight: Tensor, max_elements: int) -> Tensor:
    """max over the chunk of (mean over patches of g_fk), as F x K."""
    _count, k, p = patches.shape
    filters = weight.shape[0]
    magnitude, reciprocal = _reciprocal_denominators(patches, weight)
    ratio_sums = torch.bmm(reciprocal, patches.transpose(1, 2))  # n x 2F x K: sum_p a_k / |z_f|
    g_mean = (magnitude * ratio_sums).view(-1, 2, filters, k).sum(dim=1) / p
    return g_mean.amax(dim=0)


def _channel_scores(patches: Tensor, weight: Tensor, max_elements: int) -> Tensor:
    """max of g_fk over the chunk, filters and patches, per kernel entry k (K values)."""
    _count, k, _p = patches.shape
    filters = weight.shape[0]
    magnitude, reciprocal = _reciprocal_denominators(patches, weight)
    columns = patches.permute(1, 0, 2).reshape(k, -1)  # K x Q, Q = n * P
    rows = reciprocal.permute(1, 0, 2).reshape(2 * filters, -1)  # 2F x Q
    best = torch.zeros(2 * filters, k, dtype=weight.dtype, device=weight.device)
    block = max_elements if patches.is_cuda else min(max_elements, PRODUCT_BLOCK)
    step = max(1, block // (2 * filters * k))
    for q in range(0, columns.shape[1], step):
        product = rows[:, None, q : q + step] * columns[None, :, q : q + step]
        torch.maximum(best, product.amax(dim=-1), out=best)
    return (magnitude * best).amax(dim=0)
