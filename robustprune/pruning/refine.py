"""PFP's per-channel maxima of g by bound and refine, and the exact max-product they equal.

The value at patch q and kernel entry k is a_k(q) max_f |W_fk| / |z_f(q)| over both signs (2F
rows): a max-times product, which BLAS cannot do. ``exact_entry_maxima`` computes it directly
(F * K elementwise operations per patch: the reference); ``channel_maxima`` bounds every value
with one matmul and computes exactly only where a bound can still raise a channel's maximum,
with the same result bit for bit (tests/test_pruning_sensitivity.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from robustprune.pruning.denominators import (
    Denominators,
    layer_matmul,
    reciprocal_denominators,
)

PRODUCT_BLOCK = 1 << 18
"""Elements per block of the exact max-product on CPU (cache-sized; larger blocks run slower)."""

POWER = 8
"""Exponent t of the power-sum bound: max_f v_f <= (sum_f v_f^t)^(1/t) <= (2F)^(1/t) max_f v_f
(a power of 2: the t-th power is repeated squares, the root ``root_upper_bound``)."""

POWER_FLOOR = 1e-30
"""Added to every power sum (tau^t, tau ~ 1.8e-4 for t = 8): where the largest scaled term is
>= tau, its t-th power and every product reaching it are normal float32 numbers, so the sum
cannot underflow below it; where it is < tau, the floor alone bounds it."""

BOUND_SLACK = 1e-3
"""Relative inflation of every bound: covers float32 rounding of the sums, roots and products."""

REFINE_BATCH = 1 << 14
"""Candidates evaluated exactly per batch (each costs 2F multiply-max operations)."""


def exact_entry_maxima(
    patches: Tensor, weight: Tensor, max_elements: int, denominators: Denominators | None = None
) -> Tensor:
    """Reference: max of g_fk over the chunk, filters and patches per kernel entry k (K values),
    as one blocked max-product (F * K elementwise operations per patch). ``denominators`` are
    computed from the patches unless given (a layer's own, ``layer_denominators``)."""
    _count, k, _p = patches.shape
    filters = weight.shape[0]
    magnitude, reciprocal = denominators or reciprocal_denominators(patches, weight, fold=True)
    columns = patches.permute(1, 0, 2).reshape(k, -1)  # K x Q, Q = n * P
    rows = reciprocal.permute(1, 0, 2).reshape(2 * filters, -1)  # 2F x Q
    best = torch.zeros(2 * filters, k, dtype=weight.dtype, device=weight.device)
    block = max_elements if patches.is_cuda else min(max_elements, PRODUCT_BLOCK)
    step = max(1, block // (2 * filters * k))
    for q in range(0, columns.shape[1], step):
        product = rows[:, None, q : q + step] * columns[None, :, q : q + step]
        torch.maximum(best, product.amax(dim=-1), out=best)
    return (magnitude * best).amax(dim=0)


def channel_maxima(
    patches: Tensor,
    weight: Tensor,
    groups: int,
    lower: Tensor | None = None,
    denominators: Denominators | None = None,
) -> Tensor:
    """Per input channel j (``groups`` channels of K / groups kernel entries each) the exact
    max of g_fk over the chunk, filters, patches and the channel's kernel entries, or ``lower``
    where that is larger: the values of ``exact_entry_maxima`` (with the same ``denominators``)
    reduced per channel.

    Bound and refine: with C = max |W| and d(q) = max_f 1/|z_f(q)| every term scaled by C d(q)
    lies in [0, 1], and U_k(q) = (sum_f (|W_fk| / C)^t (1 / (|z_f(q)| d(q)))^t + floor)^(1/t),
    one matmul for all (q, k), bounds the scaled max from above and within a factor
    (2F)^(1/t). The exact value is then computed only where the bound a_k C d U exceeds the
    best exact value known for the channel (each (sample, channel)'s largest bound first);
    nowhere else can it raise the max.
    """
    count, entries, patch_count = patches.shape
    group_size = entries // groups * patch_count
    magnitude, reciprocal = denominators or reciprocal_denominators(patches, weight, fold=True)
    bound = _power_sum_bound(patches, magnitude, reciprocal)

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
    candidates = (sample[row], channel[row], offset, blocks[row, offset])
    if row.numel() > REFINE_BATCH:  # by the bound relative to the channel's largest
        candidate_channel, candidate_bound = candidates[1], candidates[3]
        order = torch.argsort(candidate_bound / channel_bound[candidate_channel], descending=True)
        candidates = _take(candidates, order)
    # window by window in that order; a candidate whose bound no longer exceeds its channel's
    # best (which only grows) cannot raise it, so each window is filtered just before use
    for start in range(0, row.numel(), REFINE_BATCH):
        sample, channel, offset, bound = _take(candidates, slice(start, start + REFINE_BATCH))
        if start > 0:
            sample, channel, offset, bound = _take(
                (sample, channel, offset, bound), bound > best[channel]
            )
        if sample.numel():
            refine(sample, channel, offset)
    return best


def _power_sum_bound(patches: Tensor, magnitude: Tensor, reciprocal: Tensor) -> Tensor:
    """a_k C d(q) U_k(q) (n x K x P), inflated by ``BOUND_SLACK``: an upper bound of every value
    of the max-product (see ``channel_maxima``)."""
    count, entries, patch_count = patches.shape
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
    bound = layer_matmul(scaled_weight.t(), scaled_rows, fold=True)  # n x K x P power sums
    del scaled_rows
    # >= the t-th root (by at most 6.9 %), times C d(q): one pass for the root and the scale
    bound = root_upper_bound(bound, POWER, scale=row_max * (weight_max * (1 + BOUND_SLACK)))
    return bound.mul_(patches)


LOG2_GAP = 0.0860713320559342
"""max over f in [0, 1) of log2(1 + f) - f: how far a float's bits, read as a fixed-point number,
fall below its base-2 logarithm."""

FLOAT_LAYOUT = {torch.float32: (torch.int32, 23, 127), torch.float64: (torch.int64, 52, 1023)}
"""dtype -> (integer of the same width, mantissa bits, exponent bias)."""


def root_upper_bound(values: Tensor, power: int, scale: Tensor | float = 1.0) -> Tensor:
    """An upper bound of ``values ** (1 / power)`` within a factor 2^(0.097) (6.9 %), for
    positive normal floats and ``power`` a power of 2, in place, times ``scale`` (a number or a
    tensor that broadcasts): two integer operations per entry instead of log2(power) square
    roots (which cost most of the bound on a CPU), and one multiplication.

    The bits I of x = 2^e (1 + f) read as a number give L(x) = I / 2^m - bias = e + f, and
    L(x) <= log2 x <= L(x) + LOG2_GAP. Dividing I - bias 2^m by ``power`` (a shift) gives the
    float y with L(y) = L(x) / power, up to one unit of the last bit. Then
    log2 y >= L(y) >= log2(x) / power - LOG2_GAP / power - 2^-m, so y 2^(LOG2_GAP / power +
    2^-m) >= x^(1/power), and log2 y <= L(y) + LOG2_GAP <= log2(x) / power + LOG2_GAP. The
    factor applied takes 2^(1-m) for 2^-m: the product's own rounding stays above the root."""
    integer, mantissa_bits, bias = FLOAT_LAYOUT[values.dtype]
    shift = power.bit_length() - 1
    if power != 1 << shift:
        raise ValueError(f"root_upper_bound: power={power} is not a power of 2")
    offset = bias << mantissa_bits  # bias * 2^m, divisible by power
    bits = values.view(integer)
    bits.bitwise_right_shift_(shift).add_(offset - (offset >> shift))
    return values.mul_(scale * 2.0 ** (LOG2_GAP / power + 2.0 ** (1 - mantissa_bits)))


def _take(tensors: tuple[Tensor, ...], index) -> tuple[Tensor, ...]:
    """The same rows (an index, a slice or a boolean mask) of every tensor of ``tensors``."""
    return tuple(tensor[index] for tensor in tensors)
