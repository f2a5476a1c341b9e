"""The shift registry: named corruptions (with their five severity parameters), the uniform
noise ball, and dataset shifts; `get_shift` resolves suite-file names such as
``corruption:fog:3``, ``noise:uniform:0.1`` and ``cifar10_1``.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from robustprune.data.shifts.ball import add_uniform_noise, noise_ball_eps
from robustprune.data.shifts.ops import block_mean, upsample_nearest
from robustprune.distributions import SEVERITIES
from robustprune.extensions import broken_note
from robustprune.registry import Registry, UnknownNameError

REFERENCE_SIZE = 32  # spatial parameters are CIFAR-10-C's, defined for 32×32 images
MIN_SIZE = 4  # smallest image side (pixels) the corruptions accept
MAX_RESOLUTION = 1024
"""Largest ``@<px>`` a corruption may be applied at: every test image is held at that side
(``@100000`` asked for terabytes, and failed only after the parents were trained)."""
SHIFT_KINDS = ("corruption", "noise", "dataset")
POISSON_TABLE_MAX_RATE = 1e5  # larger Poisson rates fall back to torch.poisson


class RandomSource:
    """Random draws for one corruption call, made on CPU from `generator` and moved to `device`,
    so a seed gives the same draws on CPU and CUDA."""

    def __init__(self, generator: torch.Generator, device: torch.device) -> None:
        self.generator = generator
        self.device = device

    def uniform(self, shape: Sequence[int], low: float = 0.0, high: float = 1.0) -> Tensor:
        """U(low, high) float32 of `shape`."""
        draw = torch.rand(tuple(shape), generator=self.generator)
        if (low, high) != (0.0, 1.0):
            draw.mul_(high - low).add_(low)
        return draw.to(self.device)

    def normal(self, shape: Sequence[int], mean: float = 0.0, std: float = 1.0) -> Tensor:
        """N(mean, std²) float32 of `shape`."""
        draw = torch.randn(tuple(shape), generator=self.generator)
        if (mean, std) != (0.0, 1.0):
            draw.mul_(std).add_(mean)
        return draw.to(self.device)

    def integers(self, low: int, high: int, shape: Sequence[int]) -> Tensor:
        """Integers uniform in [low, high) (int64) of `shape`."""
        return torch.randint(low, high, tuple(shape), generator=self.generator).to(self.device)

    def poisson(self, rates: Tensor) -> Tensor:
        """Poisson(rates) element-wise, same shape and dtype as `rates`."""
        draw = torch.poisson(rates.detach().float().cpu(), generator=self.generator)
        return draw.to(device=self.device, dtype=rates.dtype)

    def poisson_levels(self, levels: Tensor, level_rates: Tensor) -> Tensor:
        """Poisson(level_rates[levels]) element-wise (float32, shape of the integer `levels`), by
        inverting each level's CDF (float64) with a guide table: exact up to float64 rounding and
        far faster than per-element rejection sampling when there are few levels (e.g. 256)."""
        rates = level_rates.detach().cpu().to(torch.float64)
        if rates.numel() == 0 or rates.min() < 0 or rates.max() > POISSON_TABLE_MAX_RATE:
            return self.poisson(level_rates.detach().float().cpu()[levels.cpu()])
        top = float(rates.max())
        support = int(math.ceil(top + 14 * math.sqrt(top) + 24))  # P(X >= support) < 1e-40
        k = torch.arange(support, dtype=torch.float64)
        log_pmf = torch.special.xlogy(k, rates[:, None]) - rates[:, None] - torch.lgamma(k + 1)
        cdf = log_pmf.exp().cumsum(1)
        cdf[:, -1] = 1.0  # every u < 1 ends inside the table
        rows = len(rates)
        buckets = 8 * support  # the guide starts at the answer for all but ~support/(2·buckets)
        cuts = (
            torch.arange(buckets, dtype=torch.float64).div_(buckets).expand(rows, -1).contiguous()
        )
        # guide[r, j]: flat index of the first k with cdf[r, k] > j/buckets (where to start looking)
        guide = torch.searchsorted(cdf, cuts, right=True) + torch.arange(rows)[:, None] * support
        guide = guide.to(torch.int32).reshape(-1)
        flat_cdf = cdf.reshape(-1)
        shape = levels.shape
        row_of = levels.detach().cpu().reshape(-1).to(torch.int32)
        start = row_of * support
        u = torch.rand(start.numel(), generator=self.generator, dtype=torch.float64)
        bucket = (u * buckets).to(torch.int32).clamp_(max=buckets - 1)
        position = guide.index_select(0, bucket.add_(row_of * buckets))
        short = (u >= flat_cdf.index_select(0, position)).nonzero().squeeze(1)
        if short.numel():  # the guide stopped short (a few %): binary search in the row instead
            # rows offset by their index make one non-decreasing sequence: row r spans [r, r + 1]
            offset_cdf = (cdf + torch.arange(rows, dtype=torch.float64)[:, None]).reshape(-1)
            row = row_of.index_select(0, short)
            found = torch.searchsorted(
                offset_cdf, row.to(torch.float64) + u.index_select(0, short), right=True
            )
            position.index_copy_(0, short, found.to(torch.int32))
        count = position.sub_(start)
        return count.to(torch.float32).reshape(shape).to(self.device)


@dataclass(frozen=True)
class CorruptionContext:
    """What a corruption function gets besides the images: random draws and the size scale."""

    random: RandomSource
    scale: float  # mean image side / 32: spatial parameters (pixels at 32 px) are multiplied by it
    severity: int
    root: Path | None = None  # data root for optional reference assets (frost pictures)

    def pixels(self, length: float) -> float:
        """A length given in pixels at 32 px, in pixels at this image size."""
        return length * self.scale

    def whole_pixels(self, length: float) -> int:
        """`pixels(length)` rounded to an integer of at least 1 (kernel radii, pixel offsets)."""
        return max(1, round(length * self.scale))


CorruptionFunction = Callable[[Tensor, Any, CorruptionContext], Tensor]


@dataclass(frozen=True)
class Corruption:
    """A registered corruption: `function(x, parameter, context)` maps float N×C×H×W in [0, 1]
    to the corrupted images (clipping happens in `corrupt`)."""

    name: str
    family: str
    parameters: tuple[Any, ...]  # one per severity 1..5, CIFAR-10-C's values at 32 px
    function: CorruptionFunction = field(repr=False)
    channels: tuple[int, ...] = (1, 3)

    def parameter(self, severity: int) -> Any:
        """The parameter for `severity` (1..5)."""
        return self.parameters[check_severity(severity, self.name) - 1]


@dataclass(frozen=True)
class DatasetShiftEntry:
    """A registered dataset shift: `loader(data, root)` returns the shifted test ImageSet."""

    name: str
    loader: Callable[[Any, Any], Any] = field(repr=False)
    datasets: tuple[str, ...] = ()  # the nominal datasets it is a shift of ( () = any )
    description: str = ""


def check_severity(severity: int, name: str) -> int:
    """`severity` if it is an int in 1..5, else ValueError naming the corruption."""
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise ValueError(f"corruption {name!r}: severity must be an int in 1..5, got {severity!r}")
    return severity


def _as_shift(name: str, shift: Any, origin: str) -> Corruption | DatasetShiftEntry:
    """What the registry holds for ``name``: a `Corruption` or a `DatasetShiftEntry` under that
    name (a bare loader ``fn(data, root) -> ImageSet`` is a dataset shift for any dataset)."""
    if isinstance(shift, Corruption):
        if ":" in name:
            raise ValueError(f"corruption name {name!r} must not contain ':'")
        if len(shift.parameters) != len(SEVERITIES):
            raise ValueError(
                f"corruption {name!r}: need 5 severity parameters, got {len(shift.parameters)}"
            )
        return shift if shift.name == name else replace(shift, name=name)
    if not isinstance(shift, DatasetShiftEntry):
        if not callable(shift):
            raise TypeError(
                f"shift {name!r} must be a Corruption, a DatasetShiftEntry or a loader "
                f"fn(data, root) -> ImageSet, got {shift!r}"
            )
        shift = DatasetShiftEntry(name, shift, (), (shift.__doc__ or "").strip().split("\n")[0])
    if ":" in name or name in SHIFT_KINDS:
        raise ValueError(
            f"dataset shift name {name!r} from {origin} is reserved "
            f"(no ':', not one of {SHIFT_KINDS})"
        )
    return shift if shift.name == name else replace(shift, name=name)


SHIFTS: Registry[Corruption | DatasetShiftEntry] = Registry(
    "shifts",
    check=_as_shift,
    code_of=lambda shift: shift.function if isinstance(shift, Corruption) else shift.loader,
    listing=lambda: list_shifts(),
)
"""Corruptions and dataset shifts, one namespace: the built-ins, ``@register_corruption``,
``@register_shift``, entry points (group ``robustprune.shifts``) and
``pytest_robustprune_shifts``, each under the name it is registered as. Its listing is every
concrete shift name (``corruption:fog:3``, ...)."""


def register_corruption(
    name: str,
    family: str,
    parameters: Sequence[Any],
    channels: Sequence[int] = (1, 3),
    origin: str | None = None,
) -> Callable[[CorruptionFunction], CorruptionFunction]:
    """Decorator registering `function(x, parameter, context)` as corruption `name` with one
    parameter per severity 1..5; a duplicate name raises naming both origins."""
    parameters = tuple(parameters)
    if len(parameters) != len(SEVERITIES):
        raise ValueError(f"corruption {name!r}: need 5 severity parameters, got {len(parameters)}")

    def decorate(function: CorruptionFunction) -> CorruptionFunction:
        corruption = Corruption(name, family, parameters, function, tuple(channels))
        SHIFTS.register(name, corruption, origin or f"robustprune ({function.__module__})")
        return function

    return decorate


def register_shift(
    name: str, datasets: Sequence[str] = (), description: str = "", origin: str | None = None
) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    """Decorator registering `loader(data: DatasetSplits, root) -> ImageSet` as dataset shift
    `name` (e.g. cifar10_1) for the nominal `datasets` (empty: any); a duplicate raises naming
    both origins."""

    def decorate(loader: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        entry = DatasetShiftEntry(name, loader, tuple(datasets), description)
        SHIFTS.register(name, entry, origin or f"robustprune ({loader.__module__})")
        return loader

    return decorate


def _corruptions() -> dict[str, Corruption]:
    return {name: shift for name, shift in SHIFTS.items() if isinstance(shift, Corruption)}


def _dataset_shifts() -> dict[str, DatasetShiftEntry]:
    return {name: shift for name, shift in SHIFTS.items() if isinstance(shift, DatasetShiftEntry)}


def list_corruptions() -> list[str]:
    """The 19 (or more, if registered) corruption names, sorted."""
    return sorted(_corruptions())


def get_corruption(name: str) -> Corruption:
    """The registered corruption `name`; UnknownNameError listing the valid names otherwise."""
    shift = SHIFTS.get(name) if name in SHIFTS else None
    if not isinstance(shift, Corruption):
        raise SHIFTS.unknown(name, list_corruptions(), noun="corruption")
    return shift


def corruptions_for(channels: int, size: tuple[int, int]) -> list[str]:
    """Sorted names of the corruptions that apply to `channels`-channel images of `size` (H, W)."""
    if min(size) < MIN_SIZE:
        return []
    return [name for name, c in sorted(_corruptions().items()) if channels in c.channels]


def _generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    if generator is not None:
        if generator.device.type != "cpu":
            raise ValueError(
                f"generator must be a CPU torch.Generator, got one on {generator.device}"
            )
        return generator
    return torch.Generator().manual_seed(0 if seed is None else int(seed))


def resolution_factor(name: str, size: tuple[int, int], resolution: int) -> int:
    """How many times `resolution` (px) is the side of the square `size` (H, W) images; ValueError
    naming the corruption, the size and the valid resolutions otherwise."""
    height, width = size
    valid = f"a multiple of the image side {height} (e.g. {height}, {2 * height}, {4 * height})"
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ValueError(
            f"corruption {name!r}: resolution must be a positive int, got {resolution!r}"
        )
    if height != width:
        raise ValueError(
            f"corruption {name!r}: resolution {resolution} needs square images, got {height}×{width}"
        )
    if resolution % height:
        raise ValueError(
            f"corruption {name!r}: resolution {resolution} px is not {valid} of {height}×{width} images"
        )
    return resolution // height


def corrupt(
    images: Tensor,
    name: str,
    severity: int,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    resolution: int | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Tensor:
    """Corruption `name` at `severity` (1..5) on N×C×H×W images (uint8 [0, 255] or float [0, 1],
    1 or 3 channels, any device); same dtype and device out, clipped to the valid range.

    Random draws come from `generator` (a CPU torch.Generator) or a fresh one seeded with
    `seed` (default 0), so a seed gives the same images on every device (up to float rounding).
    uint8 output truncates like CIFAR-10-C (``uint8(clip(x, 0, 1) * 255)``).

    `resolution` (px, square images only, a multiple k of the side): upsample each image by
    nearest neighbour to resolution×resolution, corrupt it there (parameters for that size,
    float, no 8-bit step), and return the mean of each k×k block (the original size and range).
    `root`: a data root whose reference assets are used when present (`frost/frost1..5`).
    """
    if resolution is not None and isinstance(images, Tensor) and images.ndim == 4:
        get_corruption(name)
        factor = resolution_factor(name, tuple(images.shape[-2:]), resolution)  # type: ignore[arg-type]
        if factor > 1:
            return _corrupt_upsampled(images, name, severity, generator, seed, factor, root)
    corruption = get_corruption(name)
    check_severity(severity, name)
    if not isinstance(images, Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"corruption {name!r}: images must be an N×C×H×W tensor, got {shape}")
    n, channels, height, width = images.shape
    if channels not in corruption.channels:
        raise ValueError(
            f"corruption {name!r} cannot apply to {channels}-channel images; it supports "
            f"{' or '.join(str(c) for c in corruption.channels)} channel(s)"
        )
    if min(height, width) < MIN_SIZE:
        raise ValueError(
            f"corruption {name!r}: images of {height}×{width} px are smaller than {MIN_SIZE}×{MIN_SIZE}"
        )
    x = _as_float(images, name)
    if n == 0:
        return images.clone()
    context = CorruptionContext(
        RandomSource(_generator(generator, seed), images.device),
        scale=(height + width) / (2 * REFERENCE_SIZE),
        severity=severity,
        root=None if root is None else Path(root).expanduser(),
    )
    out = corruption.function(x, corruption.parameter(severity), context)
    if out.untyped_storage().data_ptr() == images.untyped_storage().data_ptr():
        out = out.clone()  # never write into the caller's float32 images
    out = out.nan_to_num_(nan=0.0, posinf=1.0, neginf=0.0).clamp_(0.0, 1.0)
    if images.dtype == torch.uint8:
        return out.mul_(255.0).to(torch.uint8)  # truncation, as CIFAR-10-C's np.uint8
    return out.to(images.dtype)


def _corrupt_upsampled(
    images: Tensor,
    name: str,
    severity: int,
    generator: torch.Generator | None,
    seed: int | None,
    factor: int,
    root: str | os.PathLike[str] | None = None,
) -> Tensor:
    """`corrupt` at `factor` times the images' side, reduced back by factor×factor block means."""
    x = _as_float(images, name)
    big = corrupt(
        upsample_nearest(x, factor), name, severity, generator=generator, seed=seed, root=root
    )
    out = block_mean(big, factor).clamp_(0.0, 1.0)
    if images.dtype == torch.uint8:
        return out.mul_(255.0).to(torch.uint8)  # truncation, as corrupt()
    return out.to(images.dtype)


# ---------------------------------------------------------------------------- shift names


@dataclass(frozen=True)
class Shift:
    """A named distribution shift. kind "corruption" (corruption, severity), "noise" (eps, the
    uniform noise ball in normalized space) or "dataset" (a separately collected test set)."""

    name: str
    kind: str
    corruption: str | None = None
    severity: int | None = None
    eps: float | None = None
    datasets: tuple[str, ...] = ()
    resolution: int | None = None  # corruptions only: applied at this side (px), then reduced

    def apply(
        self,
        images: Tensor,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        std: Sequence[float] | None = None,
        root: str | os.PathLike[str] | None = None,
    ) -> Tensor:
        """Shift `images` (N×C×H×W, [0, 1] float or uint8). Noise shifts need the dataset's
        per-channel `std` and return float32, unclipped; dataset shifts cannot be applied;
        corruptions use reference assets under `root` when present (frost pictures)."""
        if self.kind == "corruption":
            return corrupt(
                images,
                self.corruption,  # type: ignore[arg-type]
                self.severity,  # type: ignore[arg-type]
                generator=generator,
                seed=seed,
                resolution=self.resolution,
                root=root,
            )
        if self.kind == "noise":
            if std is None:
                raise ValueError(f"shift {self.name!r} needs the dataset's per-channel std")
            return add_uniform_noise(images, self.eps, std, _generator(generator, seed))  # type: ignore[arg-type]
        raise ValueError(
            f"shift {self.name!r} is a dataset shift; load it with shifted_test_set(data, {self.name!r})"
        )


def format_eps(eps: float) -> str:
    """Canonical text of a noise-ball radius: 0.05 -> '0.05', 0.35000000000000003 -> '0.35'."""
    return f"{round(float(eps), 9):g}"


def _valid_forms() -> str:
    datasets = ", ".join(sorted(_dataset_shifts())) or "none registered"
    return (
        f"valid forms: corruption:<name>:<severity 1-5>[@<resolution {MIN_SIZE}..{MAX_RESOLUTION} px>] with name one of "
        f"{', '.join(list_corruptions())}; noise:uniform:<eps >= 0>; or a dataset shift "
        f"({datasets}){broken_note(SHIFTS.broken())}"
    )


def get_shift(name: str) -> Shift:
    """The Shift called `name`; UnknownNameError listing the valid forms and names otherwise."""
    if not isinstance(name, str):
        raise UnknownNameError(f"shift name must be a string, got {name!r}; {_valid_forms()}")
    parts = name.split(":")
    dataset_shifts = _dataset_shifts()
    if parts[0] == "corruption" and len(parts) == 3 and parts[1] in _corruptions():
        level, at, side = parts[2].partition("@")
        severity = int(level) if level.isdigit() else None
        resolution = int(side) if side.isdigit() else None
        if resolution is not None and not MIN_SIZE <= resolution <= MAX_RESOLUTION:
            raise UnknownNameError(
                f"shift {name!r}: resolution @{side} is outside {MIN_SIZE}..{MAX_RESOLUTION} px "
                "(the side the corruption is applied at before the images are reduced back)"
            )
        if severity in SEVERITIES and level == str(severity) and (not at or resolution):
            canonical = f"corruption:{parts[1]}:{severity}" + (f"@{resolution}" if at else "")
            return Shift(canonical, "corruption", parts[1], severity, resolution=resolution)
    elif parts[0] == "noise" and len(parts) == 3 and parts[1] == "uniform":
        try:
            eps = float(parts[2])
        except ValueError:
            eps = math.nan
        if math.isfinite(eps) and eps >= 0:
            return Shift(f"noise:uniform:{format_eps(eps)}", "noise", eps=eps)
    elif len(parts) == 1 and name in dataset_shifts:
        return Shift(name, "dataset", datasets=dataset_shifts[name].datasets)
    raise UnknownNameError(f"unknown shift {name!r}; {_valid_forms()}")


def dataset_shift_entry(name: str) -> DatasetShiftEntry:
    """The registered loader entry of dataset shift `name`."""
    return _dataset_shifts()[get_shift(name).name]


def list_shifts(include: str | None = None) -> list[str]:
    """Every concrete shift name (95 corruptions, the 15 noise-ball radii, dataset shifts),
    sorted, optionally filtered by the glob `include` (e.g. ``"corruption:fog:*"``)."""
    names = [f"corruption:{c}:{s}" for c in _corruptions() for s in SEVERITIES]
    names += [f"noise:uniform:{format_eps(e)}" for e in noise_ball_eps()]
    names += list(_dataset_shifts())
    names = sorted(set(names))
    return [n for n in names if include is None or fnmatch.fnmatchcase(n, include)]


def _as_float(images: Tensor, name: str) -> Tensor:
    """``images`` as float32 in [0, 1] (uint8 is divided by 255); other dtypes are refused."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div_(255.0)
    if images.is_floating_point():
        return images.float()
    raise ValueError(f"corruption {name!r}: images must be uint8 or float, got {images.dtype}")
