"""The uniform noise ball: inputs plus U(-eps, eps) noise in normalized space, at the paper's
radii (``robustprune.distributions.NOISE_BALL_EPS``).

Depends on torch only, so the registry (which applies ``noise:uniform:<eps>`` shifts) imports it
directly and nothing here imports the registry back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from robustprune.distributions import NOISE_BALL_EPS


def noise_ball_eps() -> list[float]:
    """The paper's noise-ball radii in normalized units: linspace(0, 0.7, 15)."""
    return list(NOISE_BALL_EPS)


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
