"""Benchmark: the 19 corruptions × 5 severities on N 32×32 RGB images, batched torch versus a
per-image NumPy/SciPy/PIL loop of the kind CIFAR-10-C's generator runs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_corruptions.py --images 10000 --reference-images 100

The reference loop is timed on the first --reference-images images of every (corruption,
severity) and extrapolated per image; the torch side runs on all --images the way
`shifted_test_set` generates a corrupted test set (`dataset.generate`: chunks of CHUNK = 1,000
images from one seeded generator).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import time

import numpy as np
import scipy.ndimage as ndimage
import torch
from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
from PIL import Image

from robustprune.data.shifts import corrupt, get_corruption, get_shift, list_corruptions
from robustprune.data.shifts.blur import zoom_factors
from robustprune.data.shifts.dataset import CHUNK, generate
from robustprune.data.shifts.synthetic import structured_images
from robustprune.data.shifts.textures import FROST_TEXTURES, frost_texture

# ------------------------------------------------------------ per-image reference (H×W×3 in [0, 1])


def _blur(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    return ndimage.gaussian_filter(x, (sigma, sigma, 0)[: x.ndim], mode=mode, truncate=truncate)


def _clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    h = x.shape[0]
    crop = int(np.ceil(h / factor))
    top = (h - crop) // 2
    zoomed = ndimage.zoom(x[top : top + crop, top : top + crop], (factor, factor, 1), order=1)
    trim = (zoomed.shape[0] - h) // 2
    return zoomed[trim : trim + h, trim : trim + h]


def _motion(x: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    taps = np.exp(-(np.arange(2 * radius + 1) ** 2) / (2 * sigma**2))
    taps /= taps.sum()
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    for i, weight in enumerate(taps):
        dy = math.ceil(i * math.sin(math.radians(angle)) - 0.5)
        dx = math.ceil(i * math.cos(math.radians(angle)) - 0.5)
        rows = np.clip(np.arange(h) + dy, 0, h - 1)
        cols = np.clip(np.arange(w) + dx, 0, w - 1)
        out += weight * x[rows][:, cols]
    return out


def _plasma(size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    maps = np.zeros((size, size))
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        corners = maps[0::step, 0::step]
        squares = corners + np.roll(corners, -1, 0)
        squares += np.roll(squares, -1, 1)
        maps[half::step, half::step] = squares / 4 + wibble * rng.uniform(
            -wibble, wibble, squares.shape
        )
        centres, corners = maps[half::step, half::step], maps[0::step, 0::step]
        total = centres + np.roll(centres, 1, 0) + corners + np.roll(corners, -1, 1)
        maps[0::step, half::step] = total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)
        total = centres + np.roll(centres, 1, 1) + corners + np.roll(corners, -1, 0)
        maps[half::step, 0::step] = total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)
        step //= 2
        wibble /= decay
    maps -= maps.min()
    return maps / maps.max()


def _disk(radius: float, alias: float) -> np.ndarray:
    grid = np.arange(-8, 9)
    disk = (np.add.outer(grid**2, grid**2) <= radius**2).astype(float)
    taps = np.exp(-(np.arange(-1, 2) ** 2) / (2 * alias**2))
    return ndimage.correlate(
        disk / disk.sum(), np.outer(taps, taps) / taps.sum() ** 2, mode="mirror"
    )


def _equalize(values: np.ndarray) -> np.ndarray:
    hist = np.bincount(values.ravel(), minlength=256)
    first = np.flatnonzero(hist)[0]
    cdf = np.cumsum(hist)
    scale = 255 / max(values.size - hist[first], 1)
    lut = np.clip(np.round((cdf - cdf[first]) * scale), 0, 255)
    lut[: first + 1] = 0
    return lut[values]


def reference(
    name: str, x: np.ndarray, p: object, rng: np.random.Generator, severity: int
) -> np.ndarray:
    """One image through `name` at parameter `p`, the CIFAR-10-C way (NumPy/SciPy/PIL)."""
    if name == "gaussian_noise":
        return x + rng.normal(size=x.shape, scale=p)
    if name == "shot_noise":
        return rng.poisson(x * p) / p
    if name == "impulse_noise":
        flipped, salted = rng.random(x.shape) < p, rng.random(x.shape) < 0.5
        return np.where(flipped, salted.astype(float), x)
    if name == "speckle_noise":
        return x + x * rng.normal(size=x.shape, scale=p)
    if name == "gaussian_blur":
        return _blur(x, p)
    if name == "defocus_blur":
        kernel = _disk(*p)
        return np.stack([ndimage.correlate(x[..., d], kernel, mode="mirror") for d in range(3)], -1)
    if name == "glass_blur":
        sigma, delta, iterations = p
        y = np.uint8(np.clip(_blur(x, sigma), 0, 1) * 255)
        for _ in range(iterations):
            for h in range(32 - delta, delta, -1):
                for w in range(32 - delta, delta, -1):
                    dx, dy = rng.integers(-delta, delta, size=(2,))
                    y[h, w], y[h + dy, w + dx] = y[h + dy, w + dx], y[h, w]
        return _blur(y / 255.0, sigma)
    if name == "motion_blur":
        return _motion(x, p[0], p[1], rng.uniform(-45, 45))
    if name == "zoom_blur":
        return (x + sum(_clipped_zoom(x, z) for z in zoom_factors(severity))) / (len(p) + 1)
    if name == "snow":
        mean, std, zoom, threshold, radius, sigma, blend = p
        layer = _clipped_zoom(rng.normal(mean, std, (32, 32, 1)), zoom)
        layer[layer < threshold] = 0
        layer = np.floor(np.clip(layer, 0, 1) * 255) / 255
        layer = np.round(_motion(layer, radius, sigma, rng.uniform(-135, -45)) * 255) / 255
        gray = (x @ np.array([0.299, 0.587, 0.114]))[..., None]
        x = blend * x + (1 - blend) * np.maximum(x, gray * 1.5 + 0.5)
        return x + layer + np.rot90(layer, 2)
    if name == "frost":
        texture = FROST[rng.integers(FROST_TEXTURES)]
        top, left = rng.integers(0, texture.shape[0] - 32, size=2)
        return p[0] * x + p[1] * texture[top : top + 32, left : left + 32]
    if name == "fog":
        peak = x.max()
        return (x + p[0] * _plasma(32, p[1], rng)[..., None]) * peak / (peak + p[0])
    if name in ("brightness", "saturate"):
        hsv = rgb_to_hsv(x)
        if name == "brightness":
            hsv[..., 2] = np.clip(hsv[..., 2] + p, 0, 1)
        else:
            hsv[..., 1] = np.clip(hsv[..., 1] * p[0] + p[1], 0, 1)
        return hsv_to_rgb(hsv)
    if name == "contrast":
        mean = x.mean(axis=(0, 1), keepdims=True)
        return (x - mean) * p + mean
    if name == "elastic_transform":
        alpha, sigma, affine = p
        anchors = np.float32([[16 + 10, 16 + 10], [16 + 10, 16 - 10], [16 - 10, 16 - 10]])
        moved = anchors + rng.uniform(-affine, affine, anchors.shape)
        forward = np.linalg.solve(np.c_[anchors, np.ones(3)], moved).T
        inverse = np.linalg.inv(forward[:, :2])
        offset = -inverse @ forward[:, 2]
        # (row, col) order for SciPy: swap the x/y roles of the affine map
        matrix = inverse[::-1, ::-1]
        warped = np.stack(
            [
                ndimage.affine_transform(x[..., d], matrix, offset[::-1], order=1, mode="mirror")
                for d in range(3)
            ],
            -1,
        )
        dx = (
            _blur(rng.uniform(-1, 1, (32, 32)), sigma, "reflect", 3) * alpha
            if sigma
            else np.zeros((32, 32))
        )
        dy = (
            _blur(rng.uniform(-1, 1, (32, 32)), sigma, "reflect", 3) * alpha
            if sigma
            else np.zeros((32, 32))
        )
        rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
        return np.stack(
            [
                ndimage.map_coordinates(
                    warped[..., d], (rows + dy, cols + dx), order=1, mode="reflect"
                )
                for d in range(3)
            ],
            -1,
        )
    if name == "pixelate":
        image = Image.fromarray(np.uint8(x * 255))
        image = image.resize((int(32 * p),) * 2, Image.BOX).resize((32, 32), Image.BOX)
        return np.asarray(image) / 255.0
    if name == "jpeg_compression":
        buffer = io.BytesIO()
        Image.fromarray(np.uint8(np.round(x * 255))).save(buffer, "JPEG", quality=p)
        return np.asarray(Image.open(buffer)) / 255.0
    if name == "spatter":
        mean, std, sigma, threshold, strength, mud = p
        liquid = _blur(rng.normal(mean, std, (32, 32)), sigma)
        liquid[liquid < threshold] = 0
        if mud:
            mask = _blur((liquid > threshold).astype(float), strength)
            mask[mask < 0.8] = 0
            return x * (1 - mask[..., None]) + np.array([63, 42, 20]) / 255 * mask[..., None]
        liquid8 = np.uint8(np.clip(liquid, 0, 1) * 255)
        wet = liquid8 > 0
        edges = wet & ~ndimage.binary_erosion(wet, border_value=1)
        distance = (
            np.minimum(ndimage.distance_transform_edt(~edges), 20)
            if edges.any()
            else np.full((32, 32), 20.0)
        )
        distance = np.uint8(ndimage.uniform_filter(distance, 3, mode="mirror"))
        distance = _equalize(distance)
        emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        distance = np.clip(np.round(ndimage.correlate(distance, emboss, mode="mirror")), 0, 255)
        distance = np.round(ndimage.uniform_filter(distance, 3, mode="mirror"))
        weight = liquid8 * distance
        weight = weight / max(weight.max(), 1e-12) * strength
        return x + weight[..., None] * (np.array([175, 238, 238]) / 255)
    raise ValueError(f"no reference for corruption {name!r}")


FROST = [frost_texture(i, 192).permute(1, 2, 0).numpy() for i in range(FROST_TEXTURES)]


def reference_loop(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """The CIFAR-10-C generator's shape: one image at a time, clip, ×255, uint8."""
    rng = np.random.default_rng(seed)
    parameter = get_corruption(name).parameter(severity)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = np.uint8(
            np.clip(reference(name, image / 255.0, parameter, rng, severity), 0, 1) * 255
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--reference-images", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--corruptions", nargs="*", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    images = structured_images(args.images, seed=0).to(device)
    subset = images[: args.reference_images].permute(0, 2, 3, 1).cpu().numpy()
    names = args.corruptions or list_corruptions()
    print(
        f"{args.images} images 32×32×3 on {device} in chunks of {CHUNK}, torch threads "
        f"{torch.get_num_threads()}; reference timed on {len(subset)} images per severity and "
        f"extrapolated; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(f"{'corruption':18s} {'torch img/s':>12s} {'loop img/s':>11s} {'speedup':>8s}")
    torch_total = loop_total = 0.0
    for name in names:
        corrupt(images[:16], name, 1)  # warm caches (kernels, textures)
        torch_seconds = loop_seconds = 0.0
        for severity in range(1, 6):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            generate(images, get_shift(f"corruption:{name}:{severity}"), seed=severity)
            if device.type == "cuda":
                torch.cuda.synchronize()
            torch_seconds += time.perf_counter() - start
            start = time.perf_counter()
            reference_loop(subset, name, severity, seed=severity)
            loop_seconds += (time.perf_counter() - start) * args.images / len(subset)
        torch_total += torch_seconds
        loop_total += loop_seconds
        rate, loop_rate = 5 * args.images / torch_seconds, 5 * args.images / loop_seconds
        print(
            f"{name:18s} {rate:12.0f} {loop_rate:11.0f} {loop_seconds / torch_seconds:7.1f}x",
            flush=True,
        )
    count = 5 * args.images * len(names)
    print(
        f"{'all':18s} {count / torch_total:12.0f} {count / loop_total:11.0f} {loop_total / torch_total:7.1f}x"
    )
    print(
        f"total: torch {torch_total:.1f} s, per-image loop {loop_total:.1f} s (extrapolated) "
        f"for {len(names)} corruptions × 5 severities × {args.images} images; load average at "
        f"the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
