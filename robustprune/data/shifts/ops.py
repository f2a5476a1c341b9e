"""Batched tensor building blocks for the corruptions: border padding, filtering, resampling, HSV.

Every function takes N×C×H×W (or N×H×W) float tensors on any device and works on the whole batch.
Border modes use SciPy / OpenCV names so the corruptions can say exactly what the reference did.
"""

from __future__ import annotations

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


def pad(x: Tensor, top: int, bottom: int, left: int, right: int, mode: str) -> Tensor:
    """Pad the last two axes of `x` by the given widths (pixels) with border `mode`."""
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


def filter2d(x: Tensor, kernel: Tensor, mode: str) -> Tensor:
    """Correlate every channel of N×C×H×W `x` with one odd-sized 2-D `kernel`, border `mode`."""
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"filter2d needs an odd-sized kernel, got {kh}×{kw}")
    h, w = x.shape[-2:]
    padded = pad(x, kh // 2, kh // 2, kw // 2, kw // 2, mode)
    out = torch.zeros_like(x)
    for (i, j), weight in zip(kernel.nonzero().tolist(), kernel[kernel != 0].tolist(), strict=True):
        out.add_(padded[..., i : i + h, j : j + w], alpha=weight)
    return out


def filter_axis(x: Tensor, kernel: Tensor, axis: int, mode: str) -> Tensor:
    """Correlate `x` along `axis` (-1 or -2) with the odd-sized 1-D `kernel`, border `mode`:
    a weighted sum of shifted slices, which beats single-channel conv2d on CPU."""
    taps = kernel.numel()
    if taps % 2 == 0:
        raise ValueError(f"filter_axis needs an odd-sized kernel, got {taps} taps")
    if taps == 1:
        return x * float(kernel[0])
    radius = taps // 2
    size = x.shape[axis]
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
    """OpenCV `blur(x, (3, 3))`: 3×3 mean with border reflect101."""
    kernel = torch.full((3,), 1.0 / 3.0, dtype=torch.float64)
    return filter_separable(x, kernel, kernel, "reflect101")


def clipped_zoom(x: Tensor, factor: float) -> Tensor:
    """CIFAR-10-C's clipped_zoom: centre crop ceil(size/factor), bilinear zoom (SciPy order 1,
    corners aligned) to round(crop·factor), centre trim back to the input size."""
    h, w = x.shape[-2:]
    crop_h, crop_w = math.ceil(h / factor), math.ceil(w / factor)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    crop = x[..., top : top + crop_h, left : left + crop_w]
    out_h, out_w = round(crop_h * factor), round(crop_w * factor)
    if (out_h, out_w) == (crop_h, crop_w) == (h, w):
        return x.clone()
    zoomed = F.interpolate(crop, size=(out_h, out_w), mode="bilinear", align_corners=True)
    trim_h, trim_w = (out_h - h) // 2, (out_w - w) // 2
    return zoomed[..., trim_h : trim_h + h, trim_w : trim_w + w]


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
    saturation = torch.where(value > 0, delta / torch.where(value > 0, value, 1.0), torch.zeros_like(delta))
    return torch.stack((hue, saturation, value), dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """skimage's hsv2rgb on N×3×H×W (hue, saturation, value in [0, 1]), in the closed form
    channel_n = V − V·S·clamp(min(k, 4 − k), 0, 1), k = (n + 6·H) mod 6, n = 5, 3, 1 for R, G, B."""
    hue, saturation, value = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hsv.dtype, device=hsv.device).reshape(1, 3, 1, 1)
    k = (n + hue * 6.0).remainder(6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value - value * saturation * ramp
