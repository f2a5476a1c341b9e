"""ImageNet and ImageNet-C from ImageFolder trees, decoded per batch (too large for memory).

Eval decoding: resize the shorter side to 256 px (bilinear), center-crop 224×224. Train
decoding: random-resized crop (area 8–100 %, aspect 3/4–4/3) to 224×224 plus a horizontal flip.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from robustprune.data.core import (
    DatasetNotFoundError,
    DatasetSplits,
    FileBackedSet,
    as_index,
    data_root,
    register_dataset,
    split_indices,
)
from robustprune.distributions import SEVERITIES

# The usual constants: computing them from the train split would mean reading 1.28 M files.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_DIR = "imagenet"
IMAGENET_C_DIR = "imagenet-c"
IMAGENET_VAL_FRACTION = 0.10
IMAGENET_VAL_SEED = 0
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
RESIZE = 256
CROP = 224
MODES = ("eval", "train")


def scan_image_folder(
    directory: Path, classes: Sequence[str] | None = None
) -> tuple[list[Path], np.ndarray, list[str]]:
    """(files, int64 labels, class names) of an ImageFolder tree `directory/<class>/<image>`.

    Classes are the sorted sub-folder names unless `classes` fixes the order (e.g. ImageNet-C
    reusing the training classes); files are sorted within each class.
    """
    present = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if classes is None:
        classes = present
    else:
        unknown = sorted(set(present) - set(classes))
        if unknown:
            raise ValueError(
                f"{directory} has class folders {unknown[:5]} not among the given classes"
            )
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        folder = directory / name
        if not folder.is_dir():
            continue
        names = sorted(
            entry.name
            for entry in os.scandir(folder)
            if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS)
        )
        files.extend(folder / file for file in names)
        labels.extend([label] * len(names))
    return files, np.asarray(labels, dtype=np.int64), list(classes)


def _resize_center_crop(image: Image.Image, resize: int, crop: int) -> Image.Image:
    width, height = image.size
    scale = resize / min(width, height)
    new_w, new_h = max(crop, round(width * scale)), max(crop, round(height * scale))
    image = image.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - crop) // 2, (new_h - crop) // 2
    return image.crop((left, top, left + crop, top + crop))


def _random_resized_crop(image: Image.Image, crop: int, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            break
    else:  # fall back to the central square-ish crop
        w = h = min(width, height)
        left, top = (width - w) // 2, (height - h) // 2
    image = image.resize((crop, crop), Image.BILINEAR, box=(left, top, left + w, top + h))
    if rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return image


class FolderImageSet(FileBackedSet):
    """A file-backed image set with the ImageSet interface; `batch` decodes the requested files.

    mode "eval": shorter side to `resize` px, center crop `crop`; mode "train": random-resized
    crop + flip, seeded from torch's global generator (so torch.manual_seed makes it repeatable).
    """

    def __init__(
        self,
        files: Sequence[Path | str],
        labels: Tensor | np.ndarray | Sequence[int],
        mode: str = "eval",
        resize: int = RESIZE,
        crop: int = CROP,
        workers: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"FolderImageSet mode must be one of {MODES}, got {mode!r}")
        self.files = [Path(file) for file in files]
        self.labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        if self.labels.shape != (len(self.files),):
            raise ValueError(
                f"FolderImageSet got {len(self.files)} files but labels of shape {tuple(self.labels.shape)}"
            )
        self.mode, self.resize, self.crop = mode, resize, crop
        self.workers = workers or min(8, os.cpu_count() or 1)

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return f"FolderImageSet({len(self)} files, mode={self.mode!r}, crop={self.crop})"

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.crop, self.crop)

    @property
    def segmentation(self) -> bool:
        return False

    def with_mode(self, mode: str) -> FolderImageSet:
        """The same files decoded with `mode` ("eval" or "train")."""
        return FolderImageSet(self.files, self.labels, mode, self.resize, self.crop, self.workers)

    def subset(self, index: Tensor | Sequence[int] | np.ndarray) -> FolderImageSet:
        """The files at `index` as a new FolderImageSet (same decoding)."""
        index = as_index(index, torch.device("cpu"))
        files = [self.files[i] for i in index.tolist()]
        return FolderImageSet(
            files, self.labels[index], self.mode, self.resize, self.crop, self.workers
        )

    def decode(self, position: int, seed: int | None = None) -> Tensor:
        """One image as uint8 3×crop×crop."""
        with Image.open(self.files[position]) as raw:
            image = raw.convert("RGB")
        if self.mode == "train":
            image = _random_resized_crop(image, self.crop, np.random.default_rng(seed))
        else:
            image = _resize_center_crop(image, self.resize, self.crop)
        return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)

    def batch(
        self, index: Tensor | Sequence[int] | np.ndarray, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """Decoded images (float32 in [0, 1], N×3×crop×crop) and labels at `index`, on `device`."""
        positions = as_index(index, torch.device("cpu")).tolist()
        seeds = (
            torch.randint(0, 2**31 - 1, (len(positions),)).tolist()
            if self.mode == "train"
            else [None] * len(positions)
        )
        with ThreadPoolExecutor(max_workers=self.workers) as pool:  # PIL decoding releases the GIL
            decoded = list(pool.map(self.decode, positions, seeds))
        images = (
            torch.stack(decoded)
            if decoded
            else torch.zeros(0, 3, self.crop, self.crop, dtype=torch.uint8)
        )
        target = torch.device(device) if device is not None else self.device
        labels = self.labels[torch.as_tensor(positions, dtype=torch.long)]
        return images.to(target).float().div_(255.0), labels.to(target)


def _require_folder(dataset: str, directory: Path, expected: str) -> None:
    if not directory.is_dir() or not any(entry.is_dir() for entry in os.scandir(directory)):
        raise DatasetNotFoundError(dataset, directory, (expected,))


@register_dataset("imagenet")
def load_imagenet(root: Path) -> DatasetSplits:
    """ImageNet: train/ minus a seeded, stratified 10 % (`val`, eval decoding); test = the val/ folder."""
    directory = data_root(root) / IMAGENET_DIR
    for split in ("train", "val"):
        _require_folder("imagenet", directory / split, "<wnid>/*.JPEG class folders")
    files, labels, classes = scan_image_folder(directory / "train")
    test_files, test_labels, _ = scan_image_folder(directory / "val", classes)
    kept, held = split_indices(len(files), IMAGENET_VAL_FRACTION, IMAGENET_VAL_SEED, labels)
    everything = FolderImageSet(files, labels, mode="eval")
    return DatasetSplits(
        name="imagenet",
        train=everything.subset(kept).with_mode("train"),
        val=everything.subset(held),
        test=FolderImageSet(test_files, test_labels, mode="eval"),
        num_classes=len(classes),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        augment=None,  # augmentation happens while decoding (mode "train")
        info={"classes": classes},
    )


def load_imagenet_c(
    root: str | os.PathLike[str] | None,
    corruption: str,
    severity: int,
    classes: Sequence[str] | None = None,
) -> FolderImageSet:
    """ImageNet-C `corruption` at `severity` (1..5) from <root>/imagenet-c/<corruption>/<severity>/<wnid>/.

    Its images are already 224×224, so decoding only center-crops; `classes` fixes the label order
    (default: the sorted wnid folders, which matches ImageNet's).
    """
    if severity not in SEVERITIES:
        raise ValueError(f"ImageNet-C severity must be 1..5, got {severity!r}")
    base = data_root(root) / IMAGENET_C_DIR
    directory = base / corruption / str(severity)
    if not directory.is_dir():
        available = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        raise DatasetNotFoundError(
            "imagenet_c",
            directory,
            ("<wnid>/*.JPEG class folders",),
            f"Corruptions present under {base}: {', '.join(available) or 'none'}.",
        )
    files, labels, _ = scan_image_folder(directory, classes)
    return FolderImageSet(files, labels, mode="eval", resize=CROP, crop=CROP)
