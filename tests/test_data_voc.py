"""A tiny VOC2011 tree (JPEGs, palette PNG masks, split lists) loaded for real."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from robustprune.data import VOC_IGNORE_INDEX, DatasetNotFoundError, load_dataset
from robustprune.data.voc import load_voc2011


def _palette_png(path: Path, mask: np.ndarray) -> None:
    image = Image.fromarray(mask.astype(np.uint8), mode="P")
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 - 3) * 3
    palette[255 * 3 : 255 * 3 + 3] = [224, 224, 192]
    image.putpalette(palette)
    image.save(path)


def _write_voc(root: Path, base: Path = Path("VOCdevkit") / "VOC2011") -> Path:
    voc = root / base
    for part in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / part).mkdir(parents=True)
    names = {"train": [f"2011_{i:06d}" for i in range(10)], "val": ["2011_100000", "2011_100001"]}
    for split, ids in names.items():
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for i, name in enumerate(ids):
            Image.new("RGB", (40, 30), (10 * i, 50, 90)).save(voc / "JPEGImages" / f"{name}.jpg")
            mask = np.zeros((30, 40), dtype=np.uint8)
            mask[:, 20:] = i % 21
            mask[0, :] = 255
            _palette_png(voc / "SegmentationClass" / f"{name}.png", mask)
    return voc


def test_voc2011_loads_masks_padded_with_ignore(tmp_path) -> None:
    _write_voc(tmp_path)
    splits = load_voc2011(tmp_path, size=48)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (9, 1, 2)
    assert splits.num_classes == 21 and splits.segmentation and splits.input_size == (48, 48)
    x, y = splits.test.batch(torch.tensor([1]), "cpu")
    assert x.shape == (1, 3, 48, 48) and x.dtype == torch.float32
    assert y.shape == (1, 48, 48) and y.dtype == torch.int64
    # 40×30 scaled by 48/40 -> 48×36: mask rows 36.. are padding (ignored), image padding is 0.
    assert bool((y[0, 36:] == VOC_IGNORE_INDEX).all()) and float(x[0, :, 36:].abs().sum()) == 0.0
    assert y[0, 5, :24].unique().tolist() == [0] and y[0, 5, 24:].unique().tolist() == [1]
    assert bool((y[0, 0] == VOC_IGNORE_INDEX).all())  # the 255 border row stays ignore
    assert splits.test.labels.shape == (2, 48, 48)


def test_voc2011_default_size_and_registry(tmp_path) -> None:
    _write_voc(tmp_path)
    splits = load_dataset("voc2011", root=tmp_path)
    assert splits.input_size == (513, 513) and splits.info["ignore_index"] == 255
    x, y = splits.train.batch([0])
    assert x.shape == (1, 3, 513, 513) and y.shape == (1, 513, 513)


def test_voc2011_torchvision_tarball_layout(tmp_path) -> None:
    _write_voc(tmp_path, Path("TrainVal") / "VOCdevkit" / "VOC2011")
    assert len(load_voc2011(tmp_path, size=32).test) == 2


def test_voc2011_missing_names_path(tmp_path) -> None:
    pattern = re.escape(str(tmp_path / "VOCdevkit" / "VOC2011")) + ".*JPEGImages.*SegmentationClass"
    with pytest.raises(DatasetNotFoundError, match=pattern):
        load_dataset("voc2011", root=tmp_path)
