"""Shifted test sets: the released CIFAR-10-C / ImageNet-C / CIFAR-10.1 files when they exist
under the data root ("loaded"), else generated from the nominal test split ("generated") and
cached in the artifact store under kind "shift"."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor

from robustprune.data.cifar import (
    CIFAR10_C_CORRUPTIONS,
    cifar10_c_available,
    load_cifar10_1,
    load_cifar10_c,
)
from robustprune.data.core import ImageSet, data_root
from robustprune.data.imagenet import load_imagenet_c
from robustprune.data.shifts.ball import add_uniform_noise
from robustprune.data.shifts.degenerate import check_shifts
from robustprune.data.shifts.frost_pictures import frost_picture_paths, frost_pictures_fingerprint
from robustprune.data.shifts.registry import (
    Shift,
    corrupt,
    dataset_shift_entry,
    get_corruption,
    get_shift,
    register_shift,
)
from robustprune.identity import code_identity, images_digest

GENERATOR_VERSION = 5  # bump when any corruption's output for a given seed changes
CHUNK = 1000  # images per corrupt() call; part of what a seed means, so it is fixed
SHIFT_KIND = "shift"  # artifact-store kind of generated sets


def test_images(source: Any) -> tuple[Tensor, Tensor]:
    """All images (uint8 or float32, as stored) and labels of an ImageSet or file-backed split."""
    if hasattr(source, "images"):
        return source.images, source.labels
    parts = [
        source.batch(torch.arange(s, min(s + CHUNK, len(source))), "cpu")[0]
        for s in range(0, len(source), CHUNK)
    ]
    return torch.cat(parts), source.labels


def generate(
    images: Tensor,
    shift: Shift,
    seed: int,
    std: tuple[float, ...] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Tensor:
    """Apply an image-level `shift` to `images` in chunks of CHUNK, drawing from one generator
    seeded with `seed` (so the result does not depend on the device)."""
    generator = torch.Generator().manual_seed(int(seed))
    parts = []
    for start in range(0, images.shape[0], CHUNK):
        chunk = images[start : start + CHUNK]
        if shift.kind == "noise":
            if std is None:
                raise ValueError(f"shift {shift.name!r} needs the dataset's per-channel std")
            parts.append(add_uniform_noise(chunk, shift.eps, std, generator))  # type: ignore[arg-type]
        else:
            parts.append(
                corrupt(
                    chunk,
                    shift.corruption,  # type: ignore[arg-type]
                    shift.severity,  # type: ignore[arg-type]
                    generator=generator,
                    resolution=shift.resolution,
                    root=root,
                )
            )
    return torch.cat(parts) if parts else images.clone()


def _frost_assets(shift: Shift, root: str | os.PathLike[str] | None) -> tuple[Any, str | None]:
    """(data root, fingerprint of the pictures) when `shift` is frost and the data root holds the
    reference frost pictures (<root>/frost/frost1..5.png|jpg), else (None, None)."""
    if shift.kind != "corruption" or shift.corruption != "frost":
        return None, None
    resolved = data_root(root)
    paths = frost_picture_paths(resolved)
    if paths is None:
        return None, None
    return resolved, frost_pictures_fingerprint(paths)


def _check_changes_images(shift: Shift, images: Tensor) -> None:
    """Refuse (DegenerateShiftError) a corruption that leaves images of this size unchanged."""
    if shift.kind == "corruption" and images.ndim == 4:
        check_shifts([shift.name], int(images.shape[1]), tuple(images.shape[-2:]))  # type: ignore[arg-type]


def _released(
    dataset: str, corruption: str, severity: int, root: str | os.PathLike[str] | None
) -> Any:
    """The released corrupted test set of `dataset`, or None when its files are not on disk."""
    if dataset == "cifar10":
        if corruption in CIFAR10_C_CORRUPTIONS and cifar10_c_available(root, corruption):
            return load_cifar10_c(root, corruption, severity)
    elif dataset == "imagenet":
        try:
            return load_imagenet_c(root, corruption, severity)
        except FileNotFoundError:
            return None
    return None


def shifted_test_set(
    data: Any,
    shift_name: str,
    seed: int = 0,
    root: str | os.PathLike[str] | None = None,
    store: Any | None = None,
) -> tuple[Any, str]:
    """The test set of `data` (a DatasetSplits) under `shift_name`, and its source: "loaded"
    (released files under `root`) or "generated" (from data.test, cached in `store` if given;
    noise-ball sets are cheap and never cached)."""
    shift = get_shift(shift_name)
    if shift.kind == "dataset":
        entry = dataset_shift_entry(shift.name)
        if entry.datasets and data.name not in entry.datasets:
            raise ValueError(
                f"shift {shift.name!r} is a shift of {', '.join(entry.datasets)}, not of {data.name!r}"
            )
        return entry.loader(data, root), "loaded"
    if shift.kind == "corruption" and shift.resolution is None:
        released = _released(data.name, shift.corruption, shift.severity, root)  # type: ignore[arg-type]
        if released is not None:
            return released, "loaded"
    images, labels = test_images(data.test)
    assets, pictures = _frost_assets(shift, root)
    if shift.kind == "noise" or store is None:
        _check_changes_images(shift, images)
        return ImageSet(generate(images, shift, seed, data.std, assets), labels), "generated"

    def build() -> tuple[dict[str, Tensor], dict[str, Any]]:
        _check_changes_images(shift, images)
        shifted = generate(images, shift, seed, data.std, assets)
        return {"images": shifted.contiguous(), "labels": labels.contiguous()}, {
            "source": "generated"
        }

    key = {
        "dataset": data.name,
        "split": "test",
        "shift": shift.name,
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
        "count": int(images.shape[0]),
        # the code that shifts and the images it shifted (robustprune.identity)
        "code": code_identity(get_corruption(shift.corruption).function),
        "data": images_digest(data.test),
    }
    if pictures is not None:  # made from the reference frost pictures, not the textures
        key["frost_pictures"] = pictures
    artifact = store.get_or_create(SHIFT_KIND, key, build)
    return ImageSet(artifact.tensors["images"], artifact.tensors["labels"]), "generated"


@register_shift("cifar10_1", datasets=("cifar10",), description="CIFAR-10.1 v6 (Recht et al. 2018)")
def cifar10_1(data: Any, root: str | os.PathLike[str] | None) -> Any:
    """CIFAR-10.1's 2,000 test images from the data root (layout: docs/datasets.md)."""
    return load_cifar10_1(root)
