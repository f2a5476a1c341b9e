"""Spatter: water streaks (severities 1-3) or mud (4-5) from a thresholded, blurred noise layer."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from robustprune.data.shifts import ops
from robustprune.data.shifts.canny import canny
from robustprune.data.shifts.registry import CorruptionContext, register_corruption

WATER = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise, RGB
MUD = (63 / 255, 42 / 255, 20 / 255)  # mud brown, RGB
CANNY_LOW, CANNY_HIGH = 50, 150  # cv2.Canny thresholds of the reference (8-bit levels)
DISTANCE_CAP = 20.0  # px at 32 px: the reference truncates the distance map here
EMBOSS = torch.tensor([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]], dtype=torch.float64)
SPATTER = (
    (0.62, 0.1, 0.7, 0.7, 0.5, 0),
    (0.65, 0.1, 0.8, 0.7, 0.5, 0),
    (0.65, 0.3, 1.0, 0.69, 0.5, 0),
    (0.65, 0.1, 0.7, 0.69, 0.6, 1),
    (0.65, 0.1, 0.5, 0.68, 0.6, 1),
)


def _color(rgb: tuple[float, float, float], channels: int, like: Tensor) -> Tensor:
    color = torch.tensor(rgb, dtype=like.dtype, device=like.device).reshape(1, 3, 1, 1)
    return color if channels == 3 else ops.gray(color)


def edge_distance(edges: Tensor, cap: float | None = None) -> Tensor:
    """Exact Euclidean distance (px) from every pixel to the nearest True pixel of N×H×W `edges`
    (a large value where an image has none); with `cap`, values above it come back as >= cap.

    Rows: the nearest edge to the left and right from running maxima of edge positions (O(HW));
    columns: min over row offsets d of along(y − d, x) + d², |d| <= cap (a longer offset cannot
    give a distance under the cap)."""
    n, h, w = edges.shape
    big = float(h + w) ** 2
    cols = torch.arange(w, device=edges.device, dtype=torch.float32)
    left = torch.where(edges, cols, -big).cummax(-1).values
    right = torch.where(edges, cols, 2 * big).flip(-1).neg_().cummax(-1).values.neg_().flip(-1)
    along = torch.minimum((cols - left).square_(), (right - cols).square_()).clamp_(max=big)
    reach = h - 1 if cap is None else min(h - 1, math.ceil(cap))
    total = along.clone()
    for d in range(1, reach + 1):
        d2 = float(d * d)
        torch.minimum(total[:, d:], along[:, :-d] + d2, out=total[:, d:])
        torch.minimum(total[:, :-d], along[:, d:] + d2, out=total[:, :-d])
    return total.sqrt_()


def equalize_histogram(values: Tensor) -> Tensor:
    """OpenCV's equalizeHist on N×H×W integer-valued floats in [0, 255], per image."""
    n = values.shape[0]
    flat = values.reshape(n, -1).long().clamp(0, 255)
    hist = torch.zeros(n, 256, device=values.device).scatter_add_(
        1, flat, torch.ones_like(flat, dtype=torch.float32)
    )
    first = (hist > 0).float().argmax(1, keepdim=True)
    cdf = hist.cumsum(1)
    base = cdf.gather(1, first)
    total = flat.shape[1]
    scale = 255.0 / (total - base).clamp_min(1)
    lut = torch.round((cdf - base) * scale).clamp(0, 255)
    lut = torch.where(torch.arange(256, device=values.device)[None] <= first, 0.0, lut)
    constant = (total - base).squeeze(1) <= 0  # a single grey level stays as it is
    out = lut.gather(1, flat).reshape(values.shape)
    return torch.where(constant[:, None, None], values, out)


@register_corruption("spatter", "weather", SPATTER)
def spatter(x: Tensor, parameter: tuple[float, ...], context: CorruptionContext) -> Tensor:
    """Liquid layer N(mean, std) blurred by sigma and zeroed below threshold; water: streaks weighted
    by the distance to the layer's Canny edges (thresholds 50/150, as the reference); mud: paint
    where the blurred mask is >= 0.8."""
    mean, std, sigma, threshold, strength, mud = parameter
    n, c, h, w = x.shape
    liquid = context.random.normal((n, 1, h, w), mean, std)
    liquid = ops.gaussian_blur(liquid, context.pixels(sigma), "nearest")
    liquid = torch.where(liquid < threshold, torch.zeros_like(liquid), liquid)
    if mud:
        mask = (liquid > threshold).to(x.dtype)
        mask = ops.gaussian_blur(mask, context.pixels(strength), "nearest")
        mask = torch.where(mask < 0.8, torch.zeros_like(mask), mask)
        return x * (1 - mask) + _color(MUD, c, x) * mask
    liquid8 = torch.floor(liquid.clamp(0, 1) * 255)  # the reference's uint8 liquid layer
    edges = canny(liquid8[:, 0], CANNY_LOW, CANNY_HIGH)
    cap = DISTANCE_CAP * context.scale
    distance = edge_distance(edges, cap).clamp(max=cap)[:, None]
    distance = torch.floor(ops.box_blur3(distance))  # float blur, then uint8 truncation
    distance = equalize_histogram(distance[:, 0])[:, None]
    distance = torch.round(ops.filter2d(distance, EMBOSS, "reflect101")).clamp(0, 255)
    distance = torch.round(ops.box_blur3(distance))  # blur of a uint8 image stays uint8
    weight = liquid8 * distance
    weight = weight / weight.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12) * strength
    return x + weight * _color(WATER, c, x)
