"""Batched tensor building blocks for the corruptions: border padding, filtering, resampling, HSV.

Every function takes N×C×H×W (or N×H×W) float tensors on any device and works on the whole batch.
Border modes use SciPy / OpenCV names so the corruptions can say exactly what the reference did.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

BORDER_MODES = ("nearest", "reflect", "reflect101", "wrap")
GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # OpenCV's RGB -> gray (ITU-R BT.601)


def border_indices(size: int, before: int, after: int, mode: str, device: torch.device) -> Tensor:
    """Source indices for positions -before .. size+after-1 of a length-`size` axis under `mode`.

    nearest: a a | a b c | c c; reflect (SciPy): b a | a b c | c b; reflect101 (OpenCV default,
    SciPy 'mirror'): c b | a b c | b a; wrap: b c | a b c | a b. Any pad width works.
    """
    index = torch.arange(-before, size + after, device=device)
    if mode == "nearest":
        return index.clamp(0, size - 1)
    if mode == "reflect":
        period = 2 * size
        index = index.remainder(period)
        return torch.where(index < size, index, period - 1 - index)
    if mode == "reflect101":
        if size == 1:
            return torch.zeros_like(index)
        period = 2 * size - 2
        index = index.remainder(period)
        return torch.where(index < size, index, period - index)
    if mode == "wrap":
        return index.remainder(size)
    raise ValueError(f"border mode {mode!r} is not one of {', '.join(BORDER_MODES)}")


_NATIVE_PAD = {"nearest": "replicate", "reflect101": "reflect", "wrap": "circular"}


def pad(x: Tensor, top: int, bottom: int, left: int, right: int, mode: str) -> Tensor:
    """Pad the last two axes of `x` by the given widths (pixels) with border `mode`."""
    h, w = x.shape[-2:]
    native = _NATIVE_PAD.get(mode)
    if (
        native is not None
        and x.ndim == 4
        and x.is_floating_point()
        and (mode == "nearest" or max(top, bottom) < h and max(left, right) < w)
    ):
        return F.pad(x, (left, right, top, bottom), mode=native)
    x = _pad_axis(x, -2, top, bottom, mode)
    return _pad_axis(x, -1, left, right, mode)


def _pad_axis(x: Tensor, axis: int, before: int, after: int, mode: str) -> Tensor:
    if before == 0 and after == 0:
        return x
    size = x.shape[axis]
    index = border_indices(size, before, after, mode, x.device)
    if before + after > 2 * size:
        return x.index_select(axis, index)
    # slices are cheaper than index_select: copy the (few) border rows/columns only
    head = x.index_select(axis, index[:before]) if before else None
    tail = x.index_select(axis, index[before + size :]) if after else None
    return torch.cat([t for t in (head, x, tail) if t is not None], dim=axis)


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> Tensor:
    """SciPy's normalized 1-D Gaussian (float64): radius int(truncate·sigma + 0.5) pixels."""
    radius = int(truncate * sigma + 0.5) if sigma > 0 else 0
    if radius == 0:
        return torch.ones(1, dtype=torch.float64)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


MATRIX_MAX_SIZE = 128  # axes up to this length are filtered by one small matmul, not shifted slices


@functools.lru_cache(maxsize=256)
def _axis_matrix(taps: tuple[float, ...], size: int, mode: str) -> Tensor:
    """The size×size float64 matrix M with M @ v = correlation of v with the odd-length `taps`
    under border `mode` (padding folded into the edge rows)."""
    radius = len(taps) // 2
    index = border_indices(size, radius, radius, mode, torch.device("cpu"))
    rows = torch.arange(size).repeat_interleave(len(taps))
    cols = index.unfold(0, len(taps), 1).reshape(-1)
    weights = torch.tensor(taps, dtype=torch.float64).repeat(size)
    matrix = torch.zeros(size, size, dtype=torch.float64)
    return matrix.index_put_((rows, cols), weights, accumulate=True)


def axis_matrix(kernel: Tensor | tuple[float, ...], size: int, mode: str, like: Tensor) -> Tensor:
    """`_axis_matrix` for a 1-D `kernel`, in `like`'s dtype and on its device."""
    taps = tuple(float(t) for t in (kernel.tolist() if isinstance(kernel, Tensor) else kernel))
    return cached_on(_axis_matrix(taps, size, mode), like)


@functools.lru_cache(maxsize=256)
def _cached_cast(matrix: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
    return matrix.to(device=device, dtype=dtype)


def cached_on(matrix: Tensor, like: Tensor) -> Tensor:
    """``matrix`` in ``like``'s dtype on ``like``'s device (each cast made once, then cached)."""
    return _cached_cast(matrix, like.dtype, like.device)


def apply_axis_matrix(x: Tensor, matrix: Tensor, axis: int) -> Tensor:
    """out[..., i, :] = Σ_j matrix[i, j]·x[..., j, :] (axis -2) or the same along the last axis."""
    if axis in (-1, x.ndim - 1):
        return torch.matmul(x, matrix.T)
    if axis in (-2, x.ndim - 2):
        return torch.matmul(matrix, x)
    raise ValueError(f"axis must be -1 or -2, got {axis}")


def filter2d(x: Tensor, kernel: Tensor, mode: str) -> Tensor:
    """Correlate every channel of N×C×H×W `x` with one odd-sized 2-D `kernel`, border `mode`.

    Small images: the kernel is split (SVD) into a few separable terms, each two small matmuls
    (border padding is per axis, so this equals the 2-D correlation up to float rounding)."""
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"filter2d needs an odd-sized kernel, got {kh}×{kw}")
    h, w = x.shape[-2:]
    if max(h, w) <= MATRIX_MAX_SIZE:
        out = None
        for column, row in _separable_terms(tuple(map(tuple, kernel.double().tolist()))):
            term = apply_axis_matrix(x, axis_matrix(row, w, mode, x), -1)
            term = apply_axis_matrix(term, axis_matrix(column, h, mode, x), -2)
            out = term if out is None else out.add_(term)
        return out if out is not None else torch.zeros_like(x)
    padded = pad(x, kh // 2, kh // 2, kw // 2, kw // 2, mode)
    out = torch.zeros_like(x)
    for (i, j), weight in zip(kernel.nonzero().tolist(), kernel[kernel != 0].tolist(), strict=True):
        out.add_(padded[..., i : i + h, j : j + w], alpha=weight)
    return out


@functools.lru_cache(maxsize=64)
def _separable_terms(
    kernel: tuple[tuple[float, ...], ...],
) -> tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]:
    """(column taps, row taps) pairs whose outer products sum to `kernel` (SVD, float64)."""
    matrix = torch.tensor(kernel, dtype=torch.float64)
    u, s, vh = torch.linalg.svd(matrix)
    keep = s > s[0] * 1e-12 if s.numel() and s[0] > 0 else torch.zeros_like(s, dtype=torch.bool)
    return tuple(
        (tuple((u[:, r] * s[r]).tolist()), tuple(vh[r].tolist())) for r in range(len(s)) if keep[r]
    )


def filter_axis(x: Tensor, kernel: Tensor, axis: int, mode: str) -> Tensor:
    """Correlate `x` along `axis` (-1 or -2) with the odd-sized 1-D `kernel`, border `mode`:
    one small matmul for axes up to MATRIX_MAX_SIZE, else a weighted sum of shifted slices."""
    taps = kernel.numel()
    if taps % 2 == 0:
        raise ValueError(f"filter_axis needs an odd-sized kernel, got {taps} taps")
    if taps == 1:
        return x * float(kernel[0])
    radius = taps // 2
    size = x.shape[axis]
    if size <= MATRIX_MAX_SIZE:
        return apply_axis_matrix(x, axis_matrix(kernel, size, mode, x), axis)
    padded = _pad_axis(x, axis, radius, radius, mode)
    out = torch.zeros_like(x)
    for offset, weight in enumerate(kernel.tolist()):
        if weight != 0:
            out.add_(padded.narrow(axis, offset, size), alpha=weight)
    return out


def filter_separable(x: Tensor, kernel_h: Tensor, kernel_w: Tensor, mode: str) -> Tensor:
    """Correlate the last two axes of `x` with 1-D kernels along H then W, border `mode`."""
    return filter_axis(filter_axis(x, kernel_h, -2, mode), kernel_w, -1, mode)


def gaussian_blur(x: Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> Tensor:
    """SciPy/skimage-style Gaussian filter over H and W of N×C×H×W `x`; sigma in pixels."""
    kernel = gaussian_kernel1d(sigma, truncate)
    if kernel.numel() == 1:
        return x.clone()
    return filter_separable(x, kernel, kernel, mode)


def box_blur3(x: Tensor) -> Tensor:
    """OpenCV `blur(x, (3, 3))`: 3×3 mean with border reflect101 (the 9-pixel sum, then ÷ 9, so
    integer-valued inputs give correctly rounded means)."""
    ones = torch.ones(3, dtype=torch.float64)
    return filter_separable(x, ones, ones, "reflect101") / 9.0


@functools.lru_cache(maxsize=256)
def zoom_matrix(size: int, factor: float) -> Tensor:
    """The size×size float64 matrix of `clipped_zoom` along one axis (bilinear is separable):
    centre crop ceil(size/factor), linear zoom with corners aligned to round(crop·factor), centre
    trim back to `size`."""
    crop = math.ceil(size / factor)
    top = (size - crop) // 2
    out = round(crop * factor)
    if out == crop == size:
        return torch.eye(size, dtype=torch.float64)
    basis = torch.eye(crop, dtype=torch.float64)[:, None, :]  # crop unit vectors, N×C×L
    zoomed = F.interpolate(basis, size=out, mode="linear", align_corners=True)[:, 0, :]  # crop×out
    trim = (out - size) // 2
    matrix = torch.zeros(size, size, dtype=torch.float64)
    matrix[:, top : top + crop] = zoomed[:, trim : trim + size].T
    return matrix


def clipped_zoom(x: Tensor, factor: float) -> Tensor:
    """CIFAR-10-C's clipped_zoom: centre crop ceil(size/factor), bilinear zoom (SciPy order 1,
    corners aligned) to round(crop·factor), centre trim back to the input size — as two small
    matmuls (one matrix per axis)."""
    h, w = x.shape[-2:]
    rows = cached_on(zoom_matrix(h, float(factor)), x)
    cols = cached_on(zoom_matrix(w, float(factor)), x)
    return torch.matmul(rows, torch.matmul(x, cols.T))


def gray(x: Tensor) -> Tensor:
    """N×1×H×W luma of N×C×H×W `x` (OpenCV weights for 3 channels, identity for 1)."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device).reshape(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def rgb_to_hsv(x: Tensor) -> Tensor:
    """skimage's rgb2hsv on N×3×H×W in [0, 1]: hue in [0, 1), 0 for gray pixels; S = 0 where V = 0."""
    r, g, b = x.unbind(dim=1)
    value, _ = x.max(dim=1)
    delta = value - x.min(dim=1).values
    safe_delta = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = (g - b) / safe_delta
    hue = torch.where(g == value, 2.0 + (b - r) / safe_delta, hue)
    hue = torch.where(b == value, 4.0 + (r - g) / safe_delta, hue)
    hue = torch.where(delta > 0, (hue / 6.0).remainder(1.0), torch.zeros_like(hue))
    saturation = torch.where(
        value > 0, delta / torch.where(value > 0, value, 1.0), torch.zeros_like(delta)
    )
    return torch.stack((hue, saturation, value), dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """skimage's hsv2rgb on N×3×H×W (hue, saturation, value in [0, 1]), in the closed form
    channel_n = V − V·S·clamp(min(k, 4 − k), 0, 1), k = (n + 6·H) mod 6, n = 5, 3, 1 for R, G, B."""
    hue, saturation, value = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hsv.dtype, device=hsv.device).reshape(1, 3, 1, 1)
    k = (n + hue * 6.0).remainder(6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value - value * saturation * ramp


def upsample_nearest(x: Tensor, factor: int) -> Tensor:
    """Each pixel of N×C×H×W `x` repeated as a factor×factor block (nearest neighbour)."""
    if factor == 1:
        return x
    return x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def block_mean(x: Tensor, factor: int) -> Tensor:
    """Mean of each non-overlapping factor×factor block of N×C×H×W `x` (H, W multiples of
    `factor`): the inverse of `upsample_nearest` on block-constant images."""
    if factor == 1:
        return x
    n, c, h, w = x.shape
    return x.reshape(n, c, h // factor, factor, w // factor, factor).mean(dim=(3, 5))
