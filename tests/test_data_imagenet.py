"""ImageNet / ImageNet-C ImageFolder trees of tiny JPEGs, decoded per batch."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from robustprune.data import DatasetNotFoundError, FolderImageSet, load_dataset, load_imagenet_c

WNIDS = ("n01440764", "n01443537", "n01484850")


def _jpeg(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, quality=95)


def _write_tree(directory: Path, per_class: int, size: tuple[int, int] = (300, 260)) -> None:
    for label, wnid in enumerate(WNIDS):
        for i in range(per_class):
            _jpeg(directory / wnid / f"{wnid}_{i:04d}.JPEG", size, (80 * label, 40, 200))


def test_imagenet_splits_and_eval_decoding(tmp_path) -> None:
    _write_tree(tmp_path / "imagenet" / "train", per_class=10)
    _write_tree(tmp_path / "imagenet" / "val", per_class=2, size=(260, 300))
    (tmp_path / "imagenet" / "train" / WNIDS[0] / "notes.txt").write_text("not an image")
    splits = load_dataset("imagenet", root=tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (27, 3, 6)
    assert splits.num_classes == 3 and splits.in_channels == 3 and splits.input_size == (224, 224)
    assert sorted(splits.val.labels.tolist()) == [0, 1, 2]  # stratified
    assert splits.test.labels.dtype == torch.int64
    assert splits.test.labels.tolist() == [0, 0, 1, 1, 2, 2]
    x, y = splits.test.batch(torch.tensor([5, 0]), "cpu")
    assert x.shape == (2, 3, 224, 224) and x.dtype == torch.float32
    assert y.tolist() == [2, 0]
    # Solid colour survives resize + crop (JPEG error only): red channel 160/255 for class 2.
    assert abs(float(x[0, 0].mean()) - 160 / 255) < 0.03 and float(x[1, 0].mean()) < 0.03
    x_train, _ = splits.train.batch([0, 1], "cpu")
    assert x_train.shape == (2, 3, 224, 224) and splits.train.mode == "train"


def test_eval_crop_is_center_of_shorter_side_256(tmp_path) -> None:
    path = tmp_path / "a" / "x.jpg"
    path.parent.mkdir()
    # A wide image: left half black, right half white.
    pixels = np.zeros((256, 512, 3), dtype=np.uint8)
    pixels[:, 256:] = 255
    Image.fromarray(pixels).save(path, quality=100)
    images = FolderImageSet([path], [0])
    x, _ = images.batch([0])
    column_means = x[0, 0].mean(dim=0)
    # Shorter side already 256 -> crop columns 144..367 of 512: black for 112 px, white for 112 px.
    assert float(column_means[:100].max()) < 0.05 and float(column_means[124:].min()) > 0.95


def test_train_mode_is_repeatable_under_manual_seed(tmp_path) -> None:
    path = tmp_path / "a" / "x.jpg"
    path.parent.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    images = FolderImageSet([path, path], [0, 0], mode="train")
    torch.manual_seed(3)
    first, _ = images.batch([0, 1])
    torch.manual_seed(3)
    second, _ = images.batch([0, 1])
    assert torch.equal(first, second) and not torch.equal(first[0], first[1])
    with pytest.raises(ValueError, match="mode must be one of"):
        FolderImageSet([path], [0], mode="test")


def test_imagenet_missing_names_path(tmp_path) -> None:
    with pytest.raises(
        DatasetNotFoundError, match=re.escape(str(tmp_path / "imagenet" / "train")) + ".*JPEG"
    ):
        load_dataset("imagenet", root=tmp_path)


def test_imagenet_c(tmp_path) -> None:
    _write_tree(tmp_path / "imagenet-c" / "fog" / "3", per_class=2, size=(224, 224))
    images = load_imagenet_c(tmp_path, "fog", 3)
    assert len(images) == 6 and images.labels.tolist() == [0, 0, 1, 1, 2, 2]
    x, _ = images.batch([4], "cpu")
    assert x.shape == (1, 3, 224, 224)
    with pytest.raises(DatasetNotFoundError, match=r"fog/5.*Corruptions present under .*: fog"):
        load_imagenet_c(tmp_path, "fog", 5)
    with pytest.raises(ValueError, match="1..5"):
        load_imagenet_c(tmp_path, "fog", 0)
