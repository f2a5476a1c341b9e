"""PASCAL VOC 2011 semantic segmentation (21 classes, mask value 255 = ignore), decoded per batch.

Each image is resized (bilinear; masks nearest) so its longer side is `size` px (default 513),
then padded bottom/right to size×size: image padding is 0, mask padding is 255 (ignored), so
evaluation sees every labelled pixel.
"""

from __future__ import annotations

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
from robustprune.data.imagenet import IMAGENET_MEAN, IMAGENET_STD

VOC_NUM_CLASSES = 21
VOC_IGNORE_INDEX = 255
VOC_SIZE = 513
VOC_VAL_FRACTION = 0.10
VOC_VAL_SEED = 0
# torchvision's 2011 tarball unpacks under TrainVal/; both layouts are accepted, the first preferred.
VOC2011_DIRS = (Path("VOCdevkit") / "VOC2011", Path("TrainVal") / "VOCdevkit" / "VOC2011")
VOC_PARTS = ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation")


def find_voc2011(root: str | os.PathLike[str] | None = None) -> Path:
    """The VOC2011 directory under the data root; raises DatasetNotFoundError when absent."""
    base = data_root(root)
    for relative in VOC2011_DIRS:
        if all((base / relative / part).is_dir() for part in VOC_PARTS):
            return base / relative
    raise DatasetNotFoundError(
        "voc2011",
        base / VOC2011_DIRS[0],
        (*VOC_PARTS, "ImageSets/Segmentation/{train,val}.txt"),
    )


def voc_split_files(voc_dir: Path, image_set: str) -> tuple[list[Path], list[Path]]:
    """(JPEG files, palette PNG mask files) listed in ImageSets/Segmentation/<image_set>.txt."""
    listing = voc_dir / "ImageSets" / "Segmentation" / f"{image_set}.txt"
    if not listing.is_file():
        raise DatasetNotFoundError("voc2011", listing.parent, (f"{image_set}.txt",))
    names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    images = [voc_dir / "JPEGImages" / f"{name}.jpg" for name in names]
    masks = [voc_dir / "SegmentationClass" / f"{name}.png" for name in names]
    return images, masks


class SegmentationSet(FileBackedSet):
    """File-backed segmentation pairs with the ImageSet interface; labels are N×size×size int64 masks."""

    def __init__(
        self,
        images: Sequence[Path],
        masks: Sequence[Path],
        size: int = VOC_SIZE,
        workers: int | None = None,
    ) -> None:
        if len(images) != len(masks):
            raise ValueError(f"SegmentationSet got {len(images)} images but {len(masks)} masks")
        self.images = [Path(p) for p in images]
        self.masks = [Path(p) for p in masks]
        self.size = size
        self.workers = workers or min(8, os.cpu_count() or 1)
        self._labels: Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"SegmentationSet({len(self)} pairs, size={self.size})"

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.size, self.size)

    @property
    def segmentation(self) -> bool:
        return True

    @property
    def labels(self) -> Tensor:
        """All masks (N×size×size int64); decoded on first use and kept, so mind the memory."""
        if self._labels is None:
            self._labels = self.batch(torch.arange(len(self)))[1]
        return self._labels

    def subset(self, index: Tensor | Sequence[int] | np.ndarray) -> SegmentationSet:
        """The pairs at `index` as a new SegmentationSet."""
        positions = as_index(index, torch.device("cpu")).tolist()
        return SegmentationSet(
            [self.images[i] for i in positions],
            [self.masks[i] for i in positions],
            self.size,
            self.workers,
        )

    def decode(self, position: int) -> tuple[Tensor, Tensor]:
        """One pair: uint8 3×size×size image and int64 size×size mask (padding = 255)."""
        with Image.open(self.images[position]) as raw:
            image = raw.convert("RGB")
        with Image.open(self.masks[position]) as raw:
            mask = raw if raw.mode in ("P", "L") else raw.convert("L")
            mask = np.asarray(mask, dtype=np.uint8)
        if mask.shape != (image.height, image.width):
            raise ValueError(
                f"{self.masks[position]} is {mask.shape[1]}×{mask.shape[0]} px but its image is "
                f"{image.width}×{image.height}"
            )
        scale = self.size / max(image.width, image.height)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        image_px = np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.uint8)
        mask_px = np.asarray(
            Image.fromarray(mask).resize((width, height), Image.NEAREST), dtype=np.uint8
        )
        out_image = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        out_mask = np.full((self.size, self.size), VOC_IGNORE_INDEX, dtype=np.int64)
        out_image[:height, :width] = image_px
        out_mask[:height, :width] = mask_px
        return torch.from_numpy(out_image).permute(2, 0, 1), torch.from_numpy(out_mask)

    def batch(
        self, index: Tensor | Sequence[int] | np.ndarray, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """Images (float32 in [0, 1], N×3×size×size) and masks (int64 N×size×size) on `device`."""
        positions = as_index(index, torch.device("cpu")).tolist()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pairs = list(pool.map(self.decode, positions))
        if pairs:
            images = torch.stack([p[0] for p in pairs])
            masks = torch.stack([p[1] for p in pairs])
        else:
            images = torch.zeros(0, 3, self.size, self.size, dtype=torch.uint8)
            masks = torch.zeros(0, self.size, self.size, dtype=torch.int64)
        target = torch.device(device) if device is not None else self.device
        return images.to(target).float().div_(255.0), masks.to(target)


@register_dataset("voc2011")
def load_voc2011(root: Path, size: int = VOC_SIZE) -> DatasetSplits:
    """VOC2011 segmentation: train.txt minus a seeded 10 % (`val`); test = val.txt."""
    voc_dir = find_voc2011(root)
    train_images, train_masks = voc_split_files(voc_dir, "train")
    test_images, test_masks = voc_split_files(voc_dir, "val")
    everything = SegmentationSet(train_images, train_masks, size)
    kept, held = split_indices(len(everything), VOC_VAL_FRACTION, VOC_VAL_SEED)
    return DatasetSplits(
        name="voc2011",
        train=everything.subset(kept),
        val=everything.subset(held),
        test=SegmentationSet(test_images, test_masks, size),
        num_classes=VOC_NUM_CLASSES,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        augment=None,
        info={"ignore_index": VOC_IGNORE_INDEX},
    )
