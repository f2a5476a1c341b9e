"""Blur corruptions: gaussian, defocus (disk), glass (local pixel shuffling), motion, zoom."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from robustprune.data.shifts import ops
from robustprune.data.shifts.registry import CorruptionContext, register_corruption
from robustprune.distributions import SEVERITIES

ZOOM_ENDS = (1.06, 1.11, 1.16, 1.21, 1.26)  # CIFAR-10-C: np.arange(1, end, 0.01)


@register_corruption("gaussian_blur", "blur", (0.4, 0.6, 0.7, 0.8, 1.0))
def gaussian_blur(x: Tensor, sigma: float, context: CorruptionContext) -> Tensor:
    """Gaussian blur of `sigma` px (at 32 px) per channel, border 'nearest', truncated at 4 sigma."""
    return ops.gaussian_blur(x, context.pixels(sigma), "nearest")


@functools.lru_cache(maxsize=64)
def disk_kernel(radius: float, alias_sigma: float) -> Tensor:
    """CIFAR-10-C's defocus kernel: normalized disk X²+Y² <= r² on a 17×17 grid (wider if r > 8),
    smoothed by a 3×3 (5×5 if r > 8) Gaussian of `alias_sigma`; zero margins trimmed."""
    half = max(8, math.ceil(radius))
    size = 3 if radius <= 8 else 5
    grid = torch.arange(-half, half + 1, dtype=torch.float64)
    disk = ((grid[:, None] ** 2 + grid[None, :] ** 2) <= radius**2).double()
    disk /= disk.sum()
    taps = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    gauss = (
        torch.exp(-(taps**2) / (2 * alias_sigma**2)) if alias_sigma > 0 else (taps == 0).double()
    )
    gauss /= gauss.sum()
    kernel = ops.filter_separable(disk[None, None], gauss, gauss, "reflect101")[0, 0]
    nonzero = kernel.nonzero()
    reach = int((nonzero - half).abs().max()) if len(nonzero) else 0
    return kernel[half - reach : half + reach + 1, half - reach : half + reach + 1].contiguous()


@register_corruption(
    "defocus_blur", "blur", ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))
)
def defocus_blur(x: Tensor, parameter: tuple[float, float], context: CorruptionContext) -> Tensor:
    """Disk kernel of (radius, alias sigma) px at 32 px, per channel, border reflect101."""
    radius, alias = parameter
    kernel = disk_kernel(context.pixels(radius), context.pixels(alias))
    return ops.filter2d(x, kernel, "reflect101")


def glass_shuffle(x: Tensor, delta: int, context: CorruptionContext) -> Tensor:
    """One pass of CIFAR-10-C's pixel 'swap' loop: for h, w from size-delta down to delta+1,
    (h, w) <- (h+dy, w+dx) with dy, dx uniform in [-delta, delta-1]; every channel alike.

    For delta = 1 (all CIFAR severities) every source is read before it is overwritten, so the
    sequential loop equals this single gather; for larger delta it is the parallel version.
    """
    n, c, h, w = x.shape
    rows = torch.arange(h - delta, delta, -1, device=x.device)
    cols = torch.arange(w - delta, delta, -1, device=x.device)
    if len(rows) == 0 or len(cols) == 0:
        return x
    offsets = context.random.integers(-delta, delta, (n, len(rows), len(cols), 2))
    if delta == 1:  # sources are (h-1 or h, w-1 or w): one gather of flat positions per pixel
        steps = offsets.flip(1, 2).to(x.device)  # ascending rows/cols, values in {-1, 0}
        target = (rows.flip(0)[:, None] * w + cols.flip(0)[None, :]).reshape(1, -1)
        source = target + (steps[..., 1] * w + steps[..., 0]).reshape(n, -1)
        picked = x.reshape(n, c, h * w).gather(2, source[:, None, :].expand(n, c, -1))
        out = x.clone()
        out[..., 2:, 2:] = picked.reshape(n, c, h - 2, w - 2)
        return out
    source_rows = (rows[None, :, None] + offsets[..., 1]).clamp(0, h - 1)
    source_cols = (cols[None, None, :] + offsets[..., 0]).clamp(0, w - 1)
    source = (source_rows * w + source_cols).reshape(n, 1, -1).expand(n, c, -1)
    target = (rows[:, None] * w + cols[None, :]).reshape(-1)
    flat = x.reshape(n, c, h * w).clone()
    flat[:, :, target] = flat.gather(2, source)
    return flat.reshape(n, c, h, w)


@register_corruption(
    "glass_blur", "blur", ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))
)
def glass_blur(x: Tensor, parameter: tuple[float, int, int], context: CorruptionContext) -> Tensor:
    """Blur (sigma), quantize to uint8 as the reference does, shuffle `iterations` times, blur again."""
    sigma, delta, iterations = parameter
    sigma = context.pixels(sigma)
    y = torch.floor(ops.gaussian_blur(x, sigma, "nearest").clamp(0, 1) * 255) / 255
    for _ in range(iterations):
        y = glass_shuffle(y, context.whole_pixels(delta), context)
    return ops.gaussian_blur(y, sigma, "nearest")


def motion_taps(radius: int, sigma: float) -> Tensor:
    """ImageMagick's one-sided motion kernel: 2·radius+1 taps, weights exp(-i²/2σ²), normalized."""
    taps = torch.arange(2 * radius + 1, dtype=torch.float64)
    weights = torch.exp(-(taps**2) / (2 * sigma**2)) if sigma > 0 else (taps == 0).double()
    return weights / weights.sum()


def motion_offsets(count_taps: int, angles: Tensor) -> tuple[Tensor, Tensor]:
    """Per image (rows) and tap (columns): the (dy, dx) pixel offsets of the motion taps."""
    steps = torch.arange(count_taps, dtype=torch.float64)
    radians = angles.detach().cpu().to(torch.float64).deg2rad()[:, None]
    dy = torch.ceil(steps * torch.sin(radians) - 0.5).long()
    dx = torch.ceil(steps * torch.cos(radians) - 0.5).long()
    return dy, dx


def motion_blur_images(x: Tensor, radius: int, sigma: float, angles: Tensor) -> Tensor:
    """Blur each image along its own angle (degrees): tap i samples the pixel at
    (ceil(i·sin a − ½), ceil(i·cos a − ½)) rows/columns away, edge pixels repeated.

    Two equal strategies, picked by a cost model: images whose angles give the same integer
    offsets for every tap share one sum of shifted slices (few patterns), or per tap one windowed
    index over the whole batch (many patterns). Neither loops over images in Python."""
    n, c, h, w = x.shape
    weights = motion_taps(radius, sigma).tolist()
    used = [i for i, weight in enumerate(weights) if weight >= 1e-12]
    dy, dx = motion_offsets(len(weights), angles)
    dy, dx = dy[:, used], dx[:, used]
    patterns, group = torch.unique(torch.cat((dy, dx), 1), dim=0, return_inverse=True)
    # cost model (1 CPU thread): ~25 µs per (group, tap) slice-add vs ~5 ns per element and tap
    # for one windowed index per tap; both give identical sums
    if len(patterns) * 25e-6 > n * c * h * w * 5e-9:
        return _motion_by_windows(x, [weights[i] for i in used], dy, dx)
    return _motion_by_groups(x, [weights[i] for i in used], dy, dx, patterns, group)


def _motion_by_groups(
    x: Tensor, weights: list[float], dy: Tensor, dx: Tensor, patterns: Tensor, group: Tensor
) -> Tensor:
    """motion_blur_images for few distinct offset patterns: images sorted by pattern, one sum of
    shifted slices per contiguous group."""
    n, c, h, w = x.shape
    taps = len(weights)
    reach_y, reach_x = int(dy.abs().max()), int(dx.abs().max())
    order = torch.argsort(group, stable=True)
    counts = torch.bincount(group, minlength=len(patterns)).tolist()
    padded = ops.pad(
        x.index_select(0, order.to(x.device)), reach_y, reach_y, reach_x, reach_x, "nearest"
    )
    out = torch.empty_like(x)
    start = 0
    for pattern, count in zip(patterns.tolist(), counts, strict=True):
        block = padded[start : start + count]
        target = out[start : start + count]
        for k in range(taps):
            top, left = reach_y + pattern[k], reach_x + pattern[taps + k]
            tap = block[:, :, top : top + h, left : left + w]
            if k == 0:
                torch.mul(tap, weights[k], out=target)
            else:
                target.add_(tap, alpha=weights[k])
        start += count
    return out.index_select(0, torch.argsort(order).to(x.device))


def _motion_by_windows(x: Tensor, weights: list[float], dy: Tensor, dx: Tensor) -> Tensor:
    """motion_blur_images for many distinct offset patterns: per tap, pick each image's shifted
    window from a strided view of all windows of the padded batch (no per-element index)."""
    n, c, h, w = x.shape
    reach_y, reach_x = int(dy.abs().max()), int(dx.abs().max())
    padded = ops.pad(x, reach_y, reach_y, reach_x, reach_x, "nearest")
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # n, c, 2·reach_y+1, 2·reach_x+1, h, w
    images = torch.arange(n, device=x.device)
    rows, cols = (dy + reach_y).to(x.device), (dx + reach_x).to(x.device)
    out = windows[images, :, rows[:, 0], cols[:, 0]].mul_(weights[0])
    for k in range(1, len(weights)):
        out.add_(windows[images, :, rows[:, k], cols[:, k]], alpha=weights[k])
    return out


def png8(x: Tensor) -> Tensor:
    """`x` as ImageMagick writes it to an 8-bit PNG: clipped to [0, 1] and rounded half up to the
    nearest of the 256 levels (ScaleQuantumToChar), returned as float k/255."""
    return torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255


@register_corruption("motion_blur", "blur", ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)))
def motion_blur(x: Tensor, parameter: tuple[int, float], context: CorruptionContext) -> Tensor:
    """Motion blur of (radius, sigma) px at 32 px along a random angle in [-45°, 45°] per image,
    rounded to 8 bits as the reference's ImageMagick PNG round trip does."""
    radius, sigma = parameter
    angles = context.random.uniform((x.shape[0],), -45.0, 45.0)
    return png8(motion_blur_images(x, context.whole_pixels(radius), context.pixels(sigma), angles))


def zoom_factors(severity: int) -> list[float]:
    """CIFAR-10-C's zoom factors: np.arange(1, end, 0.01) -> 7, 12, 16, 21, 26 factors."""
    return np.arange(1, ZOOM_ENDS[severity - 1], 0.01).tolist()


@functools.lru_cache(maxsize=32)
def zoom_blur_operator(h: int, w: int, factors: tuple[float, ...]) -> Tensor:
    """The (h·w)×(h·w) float64 matrix of zoom_blur on a flattened image: (I + Σ_z A_z ⊗ B_z)/(Z+1)
    with A_z, B_z the per-axis clipped-zoom matrices."""
    total = torch.eye(h * w, dtype=torch.float64)
    for factor in factors:
        total += torch.kron(ops.zoom_matrix(h, float(factor)), ops.zoom_matrix(w, float(factor)))
    return total / (len(factors) + 1)


ZOOM_DENSE_MAX_PIXELS = 1024  # up to 32×32, zoom_blur is one dense (h·w)² matmul


@register_corruption("zoom_blur", "blur", tuple(tuple(zoom_factors(s)) for s in SEVERITIES))
def zoom_blur(x: Tensor, factors: tuple[float, ...], context: CorruptionContext) -> Tensor:
    """Mean of x and its centre zooms by each factor (relative, so no size scaling needed)."""
    n, c, h, w = x.shape
    if h * w <= ZOOM_DENSE_MAX_PIXELS:
        operator = ops.cached_on(zoom_blur_operator(h, w, tuple(factors)), x)
        return torch.matmul(x.reshape(n * c, h * w), operator.T).reshape(n, c, h, w)
    out = x.clone()
    for factor in factors:
        out += ops.clipped_zoom(x, factor)
    return out / (len(factors) + 1)
