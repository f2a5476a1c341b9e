"""Pixel-noise corruptions (gaussian, shot, impulse, speckle), registered with the shift
registry; the uniform noise ball lives in `ball` (re-exported here)."""

from __future__ import annotations

import torch
from torch import Tensor

from robustprune.data.shifts.ball import (
    add_uniform_noise,
    noise_ball,
    noise_ball_eps,
    noise_draw_generator,
)
from robustprune.data.shifts.registry import CorruptionContext, register_corruption

__all__ = [
    "add_uniform_noise",
    "gaussian_noise",
    "impulse_noise",
    "noise_ball",
    "noise_ball_eps",
    "noise_draw_generator",
    "shot_noise",
    "speckle_noise",
]


@register_corruption("gaussian_noise", "noise", (0.04, 0.06, 0.08, 0.09, 0.10))
def gaussian_noise(x: Tensor, sigma: float, context: CorruptionContext) -> Tensor:
    """x + N(0, sigma²) per element."""
    return context.random.normal(x.shape, std=sigma).add_(x)


@register_corruption("shot_noise", "noise", (500, 250, 100, 75, 50))
def shot_noise(x: Tensor, rate: float, context: CorruptionContext) -> Tensor:
    """Poisson(x·rate)/rate per element (photon counting at `rate` photons per unit intensity)."""
    levels = (x * 255.0).round_()
    if bool(torch.equal(levels / 255.0, x)):  # 8-bit images: Poisson by table over 256 levels
        level_rates = torch.arange(256, dtype=torch.float32) / 255.0 * rate
        counts = context.random.poisson_levels(levels.to(torch.int32), level_rates)
        return counts.div_(rate)
    return context.random.poisson(x * rate) / rate


@register_corruption("impulse_noise", "noise", (0.01, 0.02, 0.03, 0.05, 0.07))
def impulse_noise(x: Tensor, amount: float, context: CorruptionContext) -> Tensor:
    """Salt and pepper: each element (channels independently) becomes 0 or 1 with probability `amount`."""
    draw = context.random.uniform(x.shape)  # u < amount: flipped; u < amount/2: salt, else pepper
    flipped = draw < amount
    return torch.where(flipped, (draw < amount / 2).to(x.dtype), x)


@register_corruption("speckle_noise", "noise", (0.06, 0.10, 0.12, 0.16, 0.20))
def speckle_noise(x: Tensor, sigma: float, context: CorruptionContext) -> Tensor:
    """x + x·N(0, sigma²) per element (multiplicative noise)."""
    return context.random.normal(x.shape, std=sigma).mul_(x).add_(x)
