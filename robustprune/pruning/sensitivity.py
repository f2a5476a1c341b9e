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


def weight_sensitivities(
    model: nn.Module,
    sample: Iterable[tuple[Tensor, Tensor]],
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> dict[str, LayerSensitivity]:
    """SiPP's s_fk = max over x in S of (mean over patches of g_fk), per prunable layer name."""
    return _collect(model, sample, _weight_scores, max_elements)


def channel_sensitivities(
    model: nn.Module,
    sample: Iterable[tuple[Tensor, Tensor]],
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> dict[str, LayerSensitivity]:
    """PFP's s_j = max over x, filters, patches and kernel positions of channel j of g_fk."""
    return _collect(model, sample, _channel_scores, max_elements)


def _collect(
    model: nn.Module,
    sample: Iterable[tuple[Tensor, Tensor]],
    score: Callable[..., Tensor],
    max_elements: int,
) -> dict[str, LayerSensitivity]:
    """Run ``sample`` through ``model`` once; each prunable layer's hook folds its batch into a max."""
    results: dict[str, LayerSensitivity] = {}

    def hook_for(name: str, module: nn.Module):
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
            weight = module.weight.detach()
            flat_weight = weight.reshape(weight.shape[0], -1)
            activations = inputs[0].detach()
            first = _patches(module, activations[:1])
            entries, patch_count = first.shape[1:]
            if score is _channel_scores:  # patches, bounds, active blocks; z and its powers
                per_sample = 4 * entries * patch_count + 8 * flat_weight.shape[0] * patch_count
                step = max(1, max_elements // (per_sample * first.shape[0]))  # x2: doubled batch
            else:  # patches; z; per-sample F x K sums
                per_sample = entries * patch_count + 4 * flat_weight.shape[0] * (
                    entries + patch_count
                )
                step = max(1, max_elements // (2 * per_sample))
            for start in range(0, activations.shape[0], step):
                patches = _patches(module, activations[start : start + step])
                previous = results.get(name)
                if score is _channel_scores:  # exact per-channel maxima; the running one prunes
                    chunk_max = _channel_scores(
                        patches,
                        flat_weight,
                        weight.shape[1],
                        None if previous is None else previous.scores,
                    )
                else:
                    chunk_max = score(patches, flat_weight, max_elements)
                if previous is None:
                    results[name] = LayerSensitivity(chunk_max, patches.shape[-1])
                else:
                    torch.maximum(previous.scores, chunk_max, out=previous.scores)

        return hook

    handles = [
        module.register_forward_hook(hook_for(name, module))
        for name, module in prunable_modules(model).items()
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
    modules = prunable_modules(model)
    for name, result in results.items():
        weight = modules[name].weight
        if score is _weight_scores:
            result.scores = result.scores.view_as(weight)
        elif score is not _channel_scores:  # per kernel entry -> per input channel
            result.scores = result.scores.view(weight.shape[1], -1).amax(dim=1)
    return results


def _patches(module: nn.Module, inputs: Tensor) -> Tensor:
    """Input patches as n x K x P, nonnegative: the doubled batch [a+; -a-] if any entry is < 0."""
    if isinstance(module, nn.Conv2d):
        if module.padding_mode == "zeros" and not isinstance(module.padding, str):
            patches = F.unfold(
                inputs,
                module.kernel_size,
                dilation=module.dilation,
                padding=module.padding,
                stride=module.stride,
            )
        else:
            mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
            padded = F.pad(inputs, module._reversed_padding_repeated_twice, mode=mode)
            patches = F.unfold(
                padded, module.kernel_size, dilation=module.dilation, stride=module.stride
            )
    else:
        patches = inputs.reshape(inputs.shape[0], -1, inputs.shape[-1]).transpose(1, 2)
    # patches hold input entries and padding only: nonnegative inputs (the common case after a
    # ReLU) need no pass over the K-times larger patches
    if bool((inputs < 0).any()) and bool((patches < 0).any()):
        patches = torch.cat([patches.clamp(min=0), (-patches).clamp(min=0)])
    return patches


def _layer_matmul(left: Tensor, right: Tensor, fold: bool) -> Tensor:
    """left (M x K) @ right (n x K x P) as n x M x P. Folded into one GEMM over n * P columns
    where a per-sample product would re-read a large ``left`` for a few columns (P of 1 to 4
    in the deep layers of a VGG at 8 x 8); summation order, hence the last ulp, may differ."""
    rows, inner = left.shape
    count, _inner, columns = right.shape
    if not fold or rows * inner <= 64 * columns * (rows + inner):
        return torch.matmul(left, right)
    product = left @ right.transpose(0, 1).reshape(inner, count * columns)
    return product.view(rows, count, columns).transpose(0, 1).contiguous()


def _reciprocal_denominators(
    patches: Tensor, weight: Tensor, fold: bool = False
) -> tuple[Tensor, Tensor]:
    """[W+; |W-|] (2F x K) and |1/z| for both signs (n x 2F x P), 0 where |z| is ~0."""
    stacked = torch.cat([weight.clamp(min=0), weight.clamp(max=0)])
    reciprocal = _layer_matmul(stacked, patches, fold).abs_()  # |z|, n x 2F x P
    small = ~(reciprocal > DENOMINATOR_EPS)
    return stacked.abs_(), reciprocal.reciprocal_().masked_fill_(small, 0.0)  # |1/z| = 1/|z|


def _weight_scores(patches: Tensor, weight: Tensor, max_elements: int) -> Tensor:
    """max over the chunk of (mean over patches of g_fk), as F x K."""
    _count, k, p = patches.shape
    filters = weight.shape[0]
    magnitude, reciprocal = _reciprocal_denominators(patches, weight)
    ratio_sums = torch.bmm(reciprocal, patches.transpose(1, 2))  # n x 2F x K: sum_p a_k / |z_f|
    g_mean = (magnitude * ratio_sums).view(-1, 2, filters, k).sum(dim=1) / p
    return g_mean.amax(dim=0)


def _channel_scores_exact(patches: Tensor, weight: Tensor, max_elements: int) -> Tensor:
    """Reference: max of g_fk over the chunk, filters and patches per kernel entry k (K values),
    as one blocked max-product (F * K elementwise operations per patch). Tests compare
    ``_channel_scores`` against it."""
    _count, k, _p = patches.shape
    filters = weight.shape[0]
    magnitude, reciprocal = _reciprocal_denominators(patches, weight, fold=True)
    columns = patches.permute(1, 0, 2).reshape(k, -1)  # K x Q, Q = n * P
    rows = reciprocal.permute(1, 0, 2).reshape(2 * filters, -1)  # 2F x Q
    best = torch.zeros(2 * filters, k, dtype=weight.dtype, device=weight.device)
    block = max_elements if patches.is_cuda else min(max_elements, PRODUCT_BLOCK)
    step = max(1, block // (2 * filters * k))
    for q in range(0, columns.shape[1], step):
        product = rows[:, None, q : q + step] * columns[None, :, q : q + step]
        torch.maximum(best, product.amax(dim=-1), out=best)
    return (magnitude * best).amax(dim=0)


POWER = 8
"""Exponent t of the power-sum bound: max_f v_f <= (sum_f v_f^t)^(1/t) <= (2F)^(1/t) max_f v_f
(a power of 2: the root is repeated square roots)."""

POWER_FLOOR = 1e-30
"""Added to every power sum (tau^t, tau ~ 1.8e-4 for t = 8): where the largest scaled term is
>= tau, its t-th power and every product reaching it are normal float32 numbers, so the sum
cannot underflow below it; where it is < tau, the floor alone bounds it."""

BOUND_SLACK = 1e-3
"""Relative inflation of every bound: covers float32 rounding of the sums, roots and products."""

REFINE_BATCH = 1 << 14
"""Candidates evaluated exactly per batch (each costs 2F multiply-max operations)."""


def _channel_scores(
    patches: Tensor, weight: Tensor, groups: int, lower: Tensor | None = None
) -> Tensor:
    """Per input channel j (``groups`` channels of K / groups kernel entries each) the exact
    max of g_fk over the chunk, filters, patches and the channel's kernel entries, or ``lower``
    where that is larger: the same values as ``_channel_scores_exact`` reduced per channel.

    The value at patch q and entry k is a_k(q) max_f |W_fk| / |z_f(q)| over both signs (2F
    rows): a max-times product, which BLAS cannot do. Bound and refine instead: with
    C = max |W| and d(q) = max_f 1/|z_f(q)| every term scaled by C d(q) lies in [0, 1], and
    U_k(q) = (sum_f (|W_fk| / C)^t (1 / (|z_f(q)| d(q)))^t + floor)^(1/t), one matmul for all
    (q, k), bounds the scaled max from above and within a factor (2F)^(1/t). The exact value is
    then computed only where the bound a_k C d U exceeds the best exact value known for the
    channel (each (sample, channel)'s largest bound first); nowhere else can it raise the max.
    """
    count, entries, patch_count = patches.shape
    group_size = entries // groups * patch_count
    magnitude, reciprocal = _reciprocal_denominators(
        patches, weight, fold=True
    )  # 2F x K, n x 2F x P
    rows_count = magnitude.shape[0]
    work = patches.dtype if patches.dtype in (torch.float32, torch.float64) else torch.float32
    tiny = torch.finfo(work).tiny
    weight_max = magnitude.amax().to(work).clamp(min=tiny)
    row_max = reciprocal.amax(dim=1, keepdim=True).to(work)  # d(q), n x 1 x P
    scaled_weight = torch.ones(rows_count + 1, entries, dtype=work, device=patches.device)
    torch.div(magnitude, weight_max, out=scaled_weight[:rows_count])
    scaled_rows = torch.full(
        (count, rows_count + 1, patch_count), POWER_FLOOR, dtype=work, device=patches.device
    )  # the last row adds the floor
    torch.div(reciprocal, row_max.clamp(min=tiny), out=scaled_rows[:, :rows_count])
    for _ in range(POWER.bit_length() - 1):  # ^t as repeated squares
        scaled_weight[:rows_count].square_()
        scaled_rows[:, :rows_count].square_()
    bound = _layer_matmul(scaled_weight.t(), scaled_rows, fold=True)  # n x K x P power sums
    del scaled_rows
    for _ in range(POWER.bit_length() - 1):  # ^(1/t) as repeated square roots
        bound.sqrt_()
    bound.mul_(patches).mul_(row_max * (weight_max * (1 + BOUND_SLACK)))

    best = (
        torch.zeros(groups, dtype=patches.dtype, device=patches.device)
        if lower is None
        else lower.to(patches.dtype).clone()
    )
    grouped = bound.view(count, groups, group_size)
    group_bound = grouped.amax(dim=2)  # n x groups
    channel_bound = group_bound.amax(dim=0)
    if not bool((channel_bound > best).any()):
        return best
    rows = reciprocal.transpose(1, 2).reshape(count * patch_count, -1)  # (n P) x 2F
    columns = magnitude.t().contiguous()  # K x 2F
    values = patches.reshape(-1)

    def refine(sample: Tensor, channel: Tensor, offset: Tensor) -> None:
        """Exact values at (sample, channel, offset in the channel's K/groups x P block)."""
        entry = channel * (entries // groups) + offset // patch_count
        patch = offset % patch_count
        flat = (sample * entries + entry) * patch_count + patch
        # the reference's operations: |W_fk| * (1/|z_f| * a_k), then the max over f
        exact = (
            columns[entry] * (rows[sample * patch_count + patch] * values[flat][:, None])
        ).amax(dim=1)
        best.scatter_reduce_(0, channel, exact, reduce="amax")

    # lower bounds first: each channel's largest bound, then each (sample, channel)'s
    channel = torch.nonzero(channel_bound > best).squeeze(1)
    sample = group_bound[:, channel].argmax(dim=0)
    refine(sample, channel, grouped[sample, channel].argmax(dim=1))
    sample, channel = torch.nonzero(group_bound > best, as_tuple=True)
    if sample.numel() == 0:
        return best
    blocks = grouped[sample, channel]  # A x group_size, the bounds of the active blocks
    refine(sample, channel, blocks.argmax(dim=1))
    # then every entry whose bound still exceeds its channel's best, best bounds first
    row, offset = torch.nonzero(blocks > best[channel][:, None], as_tuple=True)
    if row.numel() == 0:
        return best
    sample, channel, candidate_bound = sample[row], channel[row], blocks[row, offset]
    if row.numel() > REFINE_BATCH:  # by the bound relative to the channel's largest
        order = torch.argsort(candidate_bound / channel_bound[channel], descending=True)
        sample, channel, offset, candidate_bound = (
            sample[order],
            channel[order],
            offset[order],
            candidate_bound[order],
        )
    while sample.numel():
        refine(sample[:REFINE_BATCH], channel[:REFINE_BATCH], offset[:REFINE_BATCH])
        sample, channel, offset, candidate_bound = (
            sample[REFINE_BATCH:],
            channel[REFINE_BATCH:],
            offset[REFINE_BATCH:],
            candidate_bound[REFINE_BATCH:],
        )
        keep = candidate_bound > best[channel]
        sample, channel, offset, candidate_bound = (
            sample[keep],
            channel[keep],
            offset[keep],
            candidate_bound[keep],
        )
    return best
