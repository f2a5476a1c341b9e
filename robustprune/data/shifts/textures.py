"""Procedural textures: the plasma fractal behind fog, and the frost texture (generated here,
since CIFAR-10-C's frost photographs are not redistributable and nothing is downloaded; the
photographs are used instead when they are under the data root, see frost_pictures.py)."""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from robustprune.data.shifts import ops
from robustprune.data.shifts.registry import RandomSource

FROST_TEXTURES = 5  # the reference picks one of five photographs per image
FROST_TEXTURE_SIDE = 192  # px at 32 px images (the reference's pictures ×0.2: 105-180 × 63-120 px)
FROST_SEED = 20210405
FROST_TINT = (0.86, 0.93, 1.0)  # bluish white, RGB


def plasma_fractal(count: int, size: int, decay: float, random: RandomSource) -> Tensor:
    """`count` diamond-square fractals of side `size` (a power of 2), each scaled to [0, 1]:
    CIFAR-10-C's plasma_fractal (wibble 100, divided by `decay` per level) batched."""
    if size & (size - 1):
        raise ValueError(f"plasma fractal side must be a power of 2, got {size}")
    maps = torch.zeros(count, size, size, dtype=torch.float32, device=random.device)
    step, wibble = size, 100.0

    def wibbled(total: Tensor) -> Tensor:  # float32: the map is rescaled to [0, 1] at the end
        noise = random.uniform(total.shape, -wibble, wibble).mul_(wibble)
        return noise.add_(total, alpha=0.25)

    while step >= 2:
        half = step // 2
        corners = maps[:, 0::step, 0::step]
        squares = corners + corners.roll(-1, 1)
        squares = squares + squares.roll(-1, 2)
        maps[:, half::step, half::step] = wibbled(squares)
        centres = maps[:, half::step, half::step]
        corners = maps[:, 0::step, 0::step]
        left_top = centres + centres.roll(1, 1) + corners + corners.roll(-1, 2)
        maps[:, 0::step, half::step] = wibbled(left_top)
        top_left = centres + centres.roll(1, 2) + corners + corners.roll(-1, 1)
        maps[:, half::step, 0::step] = wibbled(top_left)
        step //= 2
        wibble /= decay
    flat = maps.reshape(count, -1)
    flat = flat - flat.min(dim=1, keepdim=True).values
    flat = flat.div_(flat.max(dim=1, keepdim=True).values.clamp_min(1e-12))
    return flat.reshape(count, size, size)


def next_power_of_two(length: int) -> int:
    """Smallest power of 2 >= length."""
    return 1 << max(1, math.ceil(math.log2(max(length, 1))))


@functools.lru_cache(maxsize=16)
def frost_texture(index: int, side: int) -> Tensor:
    """Frost texture `index` (0..4) as a CPU float32 3×side×side tensor in [0, 1]: ice-crystal
    dendrites (six-armed stars with side branches) over fine grain and a faint fractal haze."""
    generator = torch.Generator().manual_seed(FROST_SEED + index)
    random = RandomSource(generator, torch.device("cpu"))
    unit = side / FROST_TEXTURE_SIDE
    stars = int(90 * (side / FROST_TEXTURE_SIDE) ** 2) + 8
    centres = random.uniform((stars, 1, 2), 0, side)
    arm_angles = random.uniform((stars, 1), 0, math.pi / 3) + torch.arange(6) * (math.pi / 3)
    arm_length = random.uniform((stars, 6), 4, 26) * unit
    # segments: the arm itself plus 4 pairs of side branches at ±60° from points along it
    starts, directions, lengths = [centres.expand(-1, 6, -1)], [arm_angles], [arm_length]
    for position in (0.25, 0.45, 0.65, 0.8):
        root = centres + position * arm_length[..., None] * torch.stack(
            (arm_angles.cos(), arm_angles.sin()), -1
        )
        for turn in (-math.pi / 3, math.pi / 3):
            starts.append(root)
            directions.append(arm_angles + turn)
            lengths.append(arm_length * (1 - position) * random.uniform((stars, 6), 0.3, 0.7))
    start = torch.cat(starts, 1).reshape(-1, 2)
    angle = torch.cat(directions, 1).reshape(-1)
    length = torch.cat(lengths, 1).reshape(-1)
    samples = torch.linspace(0, 1, int(40 * unit) + 8)
    points = (
        start[:, None, :]
        + (length[:, None] * samples[None, :])[..., None]
        * torch.stack((angle.cos(), angle.sin()), -1)[:, None, :]
    )
    points = points.reshape(-1, 2).round().long().remainder(side)
    density = torch.zeros(side * side)
    density.index_add_(0, points[:, 1] * side + points[:, 0], torch.ones(len(points)))
    density = density.reshape(1, 1, side, side)
    crystals = 1 - torch.exp(-0.8 * ops.gaussian_blur(density, 0.6 * unit, "wrap"))
    grain = ops.gaussian_blur(
        (random.uniform((1, 1, side, side)) < 0.08).float(), 0.7 * unit, "wrap"
    )
    haze = plasma_fractal(1, next_power_of_two(side), 2.0, random)[:, None, :side, :side]
    value = (0.62 * crystals + 0.5 * grain + 0.28 * haze).clamp(0, 1)[0]
    tint = torch.tensor(FROST_TINT).reshape(3, 1, 1)
    return (value * tint).clamp(0, 1).contiguous()


def frost_crops(
    count: int, channels: int, height: int, width: int, scale: float, random: RandomSource
) -> Tensor:
    """`count` random height×width crops of the frost textures (one texture drawn per image),
    N×channels×H×W on the random source's device; 1 channel takes the texture's luma."""
    side = max(round(FROST_TEXTURE_SIDE * scale), height + 1, width + 1)
    textures = _frost_stack(side, channels, random.device)
    which = random.integers(0, FROST_TEXTURES, (count,))
    top = random.integers(0, side - height, (count,))
    left = random.integers(0, side - width, (count,))
    windows = textures.unfold(2, height, 1).unfold(3, width, 1)  # 5, C, positions, positions, H, W
    return windows[which, :, top, left]  # one window copy per image


@functools.lru_cache(maxsize=8)
def _frost_stack(side: int, channels: int, device: torch.device) -> Tensor:
    """The five frost textures as a 5×channels×side×side tensor on `device` (1 channel: luma)."""
    textures = torch.stack([frost_texture(i, side) for i in range(FROST_TEXTURES)]).to(device)
    return ops.gray(textures) if channels == 1 else textures
