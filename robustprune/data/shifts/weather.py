"""Weather corruptions: snow, frost, fog, brightness (HSV value)."""

from __future__ import annotations

import torch
from torch import Tensor

from robustprune.data.shifts import ops
from robustprune.data.shifts.blur import motion_blur_images, png8
from robustprune.data.shifts.frost_pictures import (
    frost_picture_paths,
    frost_pictures,
    picture_crops,
)
from robustprune.data.shifts.registry import CorruptionContext, register_corruption
from robustprune.data.shifts.textures import frost_crops, next_power_of_two, plasma_fractal

SNOW = (
    (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
    (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
)


@register_corruption("snow", "weather", SNOW)
def snow(x: Tensor, parameter: tuple[float, ...], context: CorruptionContext) -> Tensor:
    """A N(mean, std) flake layer, zoomed, thresholded, stored as 8 bits, motion-blurred at an angle
    in [-135°, -45°]; the image is whitened towards 1.5·gray + 0.5; layer + layer rotated 180° added."""
    mean, std, zoom, threshold, radius, sigma, blend = parameter
    n, _, h, w = x.shape
    layer = context.random.normal((n, 1, h, w), mean, std)
    layer = ops.clipped_zoom(layer, zoom)
    layer = torch.where(layer < threshold, torch.zeros_like(layer), layer)
    layer = torch.floor(layer.clamp(0, 1) * 255) / 255
    angles = context.random.uniform((n,), -135.0, -45.0)
    layer = motion_blur_images(layer, context.whole_pixels(radius), context.pixels(sigma), angles)
    layer = png8(layer)  # ImageMagick's 8-bit PNG, read back /255
    x = blend * x + (1 - blend) * torch.maximum(x, ops.gray(x) * 1.5 + 0.5)
    return x + layer + layer.flip(-2, -1)


@register_corruption(
    "frost", "weather", ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))
)
def frost(x: Tensor, parameter: tuple[float, float], context: CorruptionContext) -> Tensor:
    """image_weight·x + frost_weight·(random crop of a frost picture): the reference pictures
    from `<data root>/frost/` when the context has a root holding them, else procedural textures."""
    image_weight, frost_weight = parameter
    n, c, h, w = x.shape
    paths = frost_picture_paths(context.root)
    if paths is not None:
        pictures = frost_pictures(tuple(paths), context.scale, max(h, w) + 1)
        texture = picture_crops(pictures, n, c, h, w, context.random).to(x.dtype)
    else:
        texture = frost_crops(n, c, h, w, context.scale, context.random)
    return image_weight * x + frost_weight * texture


@register_corruption("fog", "weather", ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)))
def fog(x: Tensor, parameter: tuple[float, float], context: CorruptionContext) -> Tensor:
    """(x + t·plasma(decay))·m/(m + t), m = the image's maximum; the fractal is shared by channels."""
    thickness, decay = parameter
    n, _, h, w = x.shape
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    side = max(next_power_of_two(max(h, w)), 2)
    plasma = plasma_fractal(n, side, decay, context.random)[:, None, :h, :w].to(x.dtype)
    return (x + thickness * plasma) * peak / (peak + thickness)


@register_corruption("brightness", "weather", (0.05, 0.1, 0.15, 0.2, 0.3))
def brightness(x: Tensor, shift: float, context: CorruptionContext) -> Tensor:
    """HSV value + shift (clipped to 1), hue and saturation kept; on 1 channel: min(x + shift, 1)."""
    if x.shape[1] == 1:
        return (x + shift).clamp(0, 1)
    # hsv2rgb(H, S, V') = V' − (V − x)·V'/V (hue and saturation kept; the max channel is V'
    # exactly, as in skimage); black (V = 0) becomes gray V'.
    value = x.amax(dim=1, keepdim=True)
    new_value = (value + shift).clamp_(0, 1)
    lit = value > 0
    out = new_value - (value - x) * (new_value / torch.where(lit, value, 1.0))
    return torch.where(lit, out, new_value)
