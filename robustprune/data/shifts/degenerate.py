"""Degenerate corruption settings: a (corruption, severity) that leaves images of a given size
unchanged (e.g. a blur whose kernel shrinks below one pixel at 8×8), or that gives the same
images as another severity. Measured on a few representative images of that size.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from robustprune.data.shifts.registry import (
    REFERENCE_SIZE,
    SEVERITIES,
    corrupt,
    corruptions_for,
    get_corruption,
    get_shift,
)
from robustprune.data.shifts.synthetic import structured_images

LEVEL = 1 / 255  # a change smaller than one 8-bit level everywhere counts as no change
PROBE_IMAGES = 8  # representative images per check
PROBE_SEED = 0

# (channels, (H, W)) of the built-in datasets, so suites can be checked before any data is loaded
DATASET_GEOMETRY: dict[str, tuple[int, tuple[int, int]]] = {
    "digits": (1, (8, 8)),
    "cifar10": (3, (32, 32)),
    "imagenet": (3, (224, 224)),
    "voc2011": (3, (513, 513)),
}


# Corruptions whose strength does not depend on the image size (per-pixel noise, colour changes,
# a full-size overlay at fixed weight): suite checks trust them instead of measuring (frost at
# 224 px would first build 1344-px textures); tests measure them at 8×8 and 32×32.
SIZE_INDEPENDENT = frozenset(
    {
        "gaussian_noise",
        "shot_noise",
        "impulse_noise",
        "speckle_noise",
        "brightness",
        "contrast",
        "saturate",
        "fog",
        "frost",
    }
)


class DegenerateShiftError(ValueError):
    """A shift list holds corruption settings that do not change the images, or duplicates."""


@dataclass(frozen=True)
class Setting:
    """What one (corruption, severity) does to representative images of one size."""

    corruption: str
    severity: int
    max_change: float  # largest |corrupted − clean| over the probe images, [0, 1] units
    same_as: int | None  # the lowest other severity giving the same images (within LEVEL), if any

    @property
    def identity(self) -> bool:
        """True when no pixel of any probe image moves by one 8-bit level."""
        return self.max_change < LEVEL


def probe_images(channels: int, size: tuple[int, int], count: int = PROBE_IMAGES) -> torch.Tensor:
    """`count` float32 [0, 1] structured images (colour fields, rectangles, a disk, fine noise)
    of `channels`×H×W: edges of every orientation, so any real blur or warp moves some pixel."""
    return structured_images(count, channels, tuple(size), seed=PROBE_SEED).float() / 255


@functools.lru_cache(maxsize=512)
def _probe_output(
    name: str, severity: int, channels: int, size: tuple[int, int], resolution: int | None
) -> torch.Tensor:
    return corrupt(
        probe_images(channels, size), name, severity, seed=PROBE_SEED, resolution=resolution
    )


def _max_change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def survey_corruption(
    name: str, channels: int, size: tuple[int, int], resolution: int | None = None
) -> tuple[Setting, ...]:
    """The five severities of corruption `name` on probe images of `channels`×`size` (applied at
    `resolution` px if given): each one's largest pixel change and which severity it equals."""
    get_corruption(name)
    size = (int(size[0]), int(size[1]))
    x = probe_images(channels, size)
    outputs = [_probe_output(name, s, channels, size, resolution) for s in SEVERITIES]
    settings = []
    for i, (severity, out) in enumerate(zip(SEVERITIES, outputs, strict=True)):
        same = next((SEVERITIES[j] for j in range(i) if _max_change(out, outputs[j]) < LEVEL), None)
        settings.append(Setting(name, severity, _max_change(out, x), same))
    return tuple(settings)


def distinct_settings(
    channels: int, size: tuple[int, int], resolution: int | None = None
) -> dict[str, list[int]]:
    """Per corruption that applies to `channels`×`size` images: the severities that change the
    images and differ from every lower severity (so each listed one is a distinct shift)."""
    out = {}
    for name in corruptions_for(channels, size):
        settings = survey_corruption(name, channels, tuple(size), resolution)
        out[name] = [s.severity for s in settings if not s.identity and s.same_as is None]
    return out


def _reason(setting: Setting, channels: int, size: tuple[int, int], resolution: int | None) -> str:
    height, width = size
    shift = f"corruption:{setting.corruption}:{setting.severity}" + (
        f"@{resolution}" if resolution else ""
    )
    at = f"at {resolution}×{resolution} px and reduced back to" if resolution else "on"
    side = resolution or (height + width) / 2
    parameter = get_corruption(setting.corruption).parameter(setting.severity)
    scale = side / REFERENCE_SIZE
    valid = distinct_settings(channels, size, resolution).get(setting.corruption, [])
    choices = (
        f"severities that change them here: {', '.join(map(str, valid))}"
        if valid
        else "no severity changes them here"
    )
    return (
        f"{shift} leaves {height}×{width} {channels}-channel images unchanged {at} that size: no "
        f"pixel of {PROBE_IMAGES} representative images moves by one 8-bit level (largest change "
        f"{setting.max_change:.2g}); its parameter {parameter} is CIFAR-10-C's for 32 px, and spatial "
        f"lengths are scaled by {scale:g} here ({choices}; a higher resolution such as "
        f"'@{4 * height}' may help, see docs/shifts.md)"
    )


def check_shifts(shift_names: Sequence[str], channels: int, size: tuple[int, int]) -> None:
    """Raise DegenerateShiftError naming every corruption shift in `shift_names` that leaves
    `channels`×`size` images unchanged, or gives the same images as another listed shift of the
    same corruption (SIZE_INDEPENDENT corruptions are trusted, not measured)."""
    size = (int(size[0]), int(size[1]))
    x = probe_images(channels, size)
    problems = []
    kept: list[
        tuple[str, str, int | None, torch.Tensor]
    ] = []  # (name, corruption, resolution, out)
    for name in shift_names:
        shift = get_shift(name)
        corruption, severity, resolution = shift.corruption, shift.severity, shift.resolution
        if shift.kind != "corruption" or corruption is None or severity is None:
            continue
        if corruption in SIZE_INDEPENDENT or channels not in get_corruption(corruption).channels:
            continue  # corrupt() raises its own error naming the channel count
        out = _probe_output(corruption, severity, channels, size, resolution)
        change = _max_change(out, x)
        if change < LEVEL:
            problems.append(
                _reason(Setting(corruption, severity, change, None), channels, size, resolution)
            )
            continue
        twin = next(
            (
                n
                for n, c, r, o in kept
                if (c, r) == (corruption, resolution) and _max_change(o, out) < LEVEL
            ),
            None,
        )
        if twin is not None:
            problems.append(
                f"{shift.name} gives the same {size[0]}×{size[1]} images as {twin} (no pixel of "
                f"{PROBE_IMAGES} representative images differs by one 8-bit level): list only one"
            )
        else:
            kept.append((shift.name, corruption, resolution, out))
    if problems:
        raise DegenerateShiftError("; ".join(problems))


def check_dataset_shifts(shift_names: Sequence[str], dataset: str) -> None:
    """`check_shifts` at the geometry of built-in `dataset` (DATASET_GEOMETRY); datasets not in
    the table are checked when their shifted sets are generated (`shifted_test_set`)."""
    geometry = DATASET_GEOMETRY.get(dataset)
    if geometry is not None:
        check_shifts(shift_names, *geometry)
