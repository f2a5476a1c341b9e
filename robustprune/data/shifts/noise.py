"""Pixel-noise corruptions (gaussian, shot, impulse, speckle) and the uniform noise ball."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from robustprune.data.shifts.registry import CorruptionContext, register_corruption

NOISE_BALL_MAX_EPS = 0.7
NOISE_BALL_STEPS = 15


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


def noise_ball_eps() -> list[float]:
    """The paper's noise-ball radii in normalized units: linspace(0, 0.7, 15)."""
    return torch.linspace(0.0, NOISE_BALL_MAX_EPS, NOISE_BALL_STEPS, dtype=torch.float64).tolist()


def add_uniform_noise(
    images: Tensor, eps: float, std: Sequence[float], generator: torch.Generator
) -> Tensor:
    """[0, 1] images + U(-eps, eps)·std_c, float32 and NOT clipped, so that normalize(result) =
    normalize(images) + U(-eps, eps): the noise ball of radius `eps` in normalized space."""
    if eps < 0:
        raise ValueError(f"noise ball radius eps must be >= 0, got {eps!r}")
    channels = images.shape[1]
    if len(std) != channels:
        raise ValueError(f"noise ball: std has {len(std)} entries for {channels}-channel images")
    x = images.float().div(255.0) if images.dtype == torch.uint8 else images.float()
    noise = torch.rand(tuple(x.shape), generator=generator).mul_(2 * eps).sub_(eps).to(x.device)
    scale = torch.tensor([float(s) for s in std], device=x.device).reshape(1, channels, 1, 1)
    return x + noise * scale


def noise_ball(
    images: Tensor, eps: float, std: Sequence[float], draws: int, seed: int = 0
) -> Iterator[Tensor]:
    """`draws` independent noisy copies of `images` (see `add_uniform_noise`); draw k uses a
    generator seeded with (seed, k), so any single draw can be reproduced alone."""
    for draw in range(draws):
        yield add_uniform_noise(images, eps, std, noise_draw_generator(seed, draw))


def noise_draw_generator(seed: int, draw: int) -> torch.Generator:
    """The CPU generator of noise-ball draw `draw` under `seed`."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(draw))
