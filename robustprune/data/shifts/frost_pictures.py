"""The reference frost pictures (CIFAR-10-C's frost1.png … frost5.jpg), read from the data root
when a user has put them there (nothing is downloaded); `frost` uses them instead of the
procedural textures when they are present.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from robustprune.data.shifts import ops

FROST_DIR = "frost"  # <data root>/frost/frost1.png … frost5.jpg (either extension per picture)
FROST_PICTURES = 5  # the generator draws np.random.randint(5): frost6 is never used
FROST_EXTENSIONS = (".png", ".jpg", ".jpeg")
FROST_RESIZE = 0.2  # the generator shrinks each picture by 0.2 for 32-px images


def frost_picture_paths(root: str | os.PathLike[str] | None) -> list[Path] | None:
    """Paths of frost1..frost5 under `<root>/frost/`, or None when none of them is there;
    FileNotFoundError naming the missing ones when only some are."""
    if root is None:
        return None
    folder = Path(root).expanduser() / FROST_DIR
    found, missing = [], []
    for index in range(1, FROST_PICTURES + 1):
        candidates = [folder / f"frost{index}{ext}" for ext in FROST_EXTENSIONS]
        path = next((p for p in candidates if p.is_file()), None)
        (found if path else missing).append(path or f"frost{index}.png/.jpg")
    if not found:
        return None
    if missing:
        raise FileNotFoundError(
            f"frost pictures in {folder}: found {[p.name for p in found]} but not {missing}; "
            f"put all of frost1..frost{FROST_PICTURES} (.png or .jpg) there, or none to use the "
            "procedural textures"
        )
    return found  # type: ignore[return-value]


@functools.lru_cache(maxsize=4)
def _decoded(paths: tuple[Path, ...]) -> tuple[Tensor, ...]:
    pictures = []
    for path in paths:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        pictures.append(torch.from_numpy(array).permute(2, 0, 1).contiguous())
    return tuple(pictures)


def frost_pictures_fingerprint(paths: list[Path]) -> str:
    """12 hex digits of SHA-256 over the pictures' bytes (part of a generated set's cache key)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=16)
def frost_pictures(paths: tuple[Path, ...], scale: float, min_side: int) -> tuple[Tensor, ...]:
    """The pictures as 3×H×W float32 [0, 1] tensors, shrunk by 0.2·`scale` to round(side·factor)
    px (at least `min_side`) by bilinear sampling with half-pixel centres and no antialiasing, as
    cv2.resize's INTER_LINEAR (not bit-exact: OpenCV uses 11-bit fixed-point weights)."""
    out = []
    for picture in _decoded(paths):
        h, w = picture.shape[-2:]
        factor = max(FROST_RESIZE * scale, min_side / min(h, w))
        size = (max(min_side, round(h * factor)), max(min_side, round(w * factor)))
        resized = F.interpolate(
            picture[None], size=size, scale_factor=None, mode="bilinear", align_corners=False
        )
        out.append(resized[0].clamp(0, 1).contiguous())
    return tuple(out)


def picture_crops(
    pictures: tuple[Tensor, ...], count: int, channels: int, height: int, width: int, random: object
) -> Tensor:
    """`count` random height×width crops (one picture drawn per image, then a top-left corner
    uniform over the positions that fit, as the generator's randint), N×channels×H×W on the
    random source's device; 1 channel takes OpenCV's luma."""
    which = random.integers(0, len(pictures), (count,)).cpu()  # type: ignore[attr-defined]
    u = random.uniform((count, 2)).cpu()  # type: ignore[attr-defined]
    out = torch.empty(count, 3, height, width)
    for index, picture in enumerate(pictures):
        chosen = (which == index).nonzero().squeeze(1)
        if not len(chosen):
            continue
        rows, cols = picture.shape[1] - height, picture.shape[2] - width
        top = (u[chosen, 0] * rows).long().clamp_(max=rows - 1)
        left = (u[chosen, 1] * cols).long().clamp_(max=cols - 1)
        windows = picture.unfold(1, height, 1).unfold(2, width, 1)  # 3, rows+1, cols+1, H, W
        out[chosen] = windows[:, top, left].permute(1, 0, 2, 3)
    out = out.to(random.device)  # type: ignore[attr-defined]
    return ops.gray(out) if channels == 1 else out
