"""ImageSet, DatasetSplits, normalize, splitting, the registry and the data root."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from robustprune.data import (
    DatasetNotFoundError,
    DatasetSplits,
    ImageSet,
    ImageSource,
    UnknownDatasetError,
    channel_stats,
    core,
    data_root,
    list_datasets,
    load_dataset,
    normalize,
    register_dataset,
    split_indices,
)


def _uint8_set(count: int = 6) -> ImageSet:
    images = torch.arange(count * 3 * 4 * 5, dtype=torch.int64).remainder(256).to(torch.uint8)
    return ImageSet(images.reshape(count, 3, 4, 5), torch.arange(count, dtype=torch.int64) % 3)


def test_batch_returns_float_in_unit_range_with_matching_labels() -> None:
    images = _uint8_set()
    x, y = images.batch(torch.tensor([4, 1]), "cpu")
    assert x.dtype == torch.float32 and x.shape == (2, 3, 4, 5)
    assert torch.equal(x, images.images[[4, 1]].float() / 255)
    assert torch.equal(y, torch.tensor([1, 1]))
    assert float(x.max()) <= 1.0 and float(x.min()) >= 0.0


def test_float_images_pass_through_unchanged() -> None:
    images = torch.rand(3, 1, 2, 2)
    x, _ = ImageSet(images, torch.zeros(3, dtype=torch.int64)).batch([2, 0])
    assert torch.equal(x, images[[2, 0]])


def test_subset_len_and_to() -> None:
    images = _uint8_set()
    part = images.subset(np.array([0, 5, 3]))
    assert len(images) == 6 and len(part) == 3
    assert torch.equal(part.labels, torch.tensor([0, 2, 0]))
    assert images.to("cpu") is images
    assert part.channels == 3 and part.image_size == (4, 5)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.int64), "N×C×H×W"),
        (
            torch.zeros(2, 1, 4, 4, dtype=torch.float64),
            torch.zeros(2, dtype=torch.int64),
            "float64",
        ),
        (torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.int32), "int64"),
        (torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.int64), "do not match"),
        (torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 5, dtype=torch.int64), "do not match"),
    ],
)
def test_imageset_rejects_bad_inputs(images, labels, message) -> None:
    with pytest.raises(ValueError, match=message):
        ImageSet(images, labels)


def test_segmentation_masks_are_accepted() -> None:
    masks = torch.randint(0, 21, (2, 4, 4))
    images = ImageSet(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), masks)
    _, y = images.batch([1])
    assert images.segmentation and torch.equal(y, masks[[1]])


def test_batches_cover_every_sample_once() -> None:
    images = _uint8_set(7)
    seen = torch.cat(
        [y for _, y in images.batches(3, shuffle=True, generator=torch.Generator().manual_seed(1))]
    )
    assert sorted(seen.tolist()) == sorted(images.labels.tolist())
    assert [len(y) for _, y in images.batches(3)] == [3, 3, 1]
    assert isinstance(images, ImageSource)


def test_normalize_per_channel() -> None:
    x = torch.rand(2, 3, 4, 4)
    out = normalize(x, (0.1, 0.2, 0.3), (0.5, 0.25, 2.0))
    assert torch.allclose(out[:, 1], (x[:, 1] - 0.2) / 0.25)
    assert torch.allclose(out[:, 2], (x[:, 2] - 0.3) / 2.0)
    with pytest.raises(ValueError, match="3 channels"):
        normalize(x, (0.5,), (0.5,))


def test_channel_stats_in_unit_range() -> None:
    images = torch.zeros(2, 2, 2, 2, dtype=torch.uint8)
    images[:, 1] = 255
    images[0, 0] = 255
    mean, std = channel_stats(images)
    assert mean == pytest.approx((0.5, 1.0)) and std == pytest.approx((0.5, 0.0))


def test_split_is_stratified_exact_and_seeded() -> None:
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    kept, held = split_indices(100, 0.1, seed=0, labels=labels)
    assert len(held) == 10 and len(kept) == 90
    assert np.bincount(labels[held]).tolist() == [1, 2, 3, 4]
    assert set(kept).isdisjoint(held) and set(kept) | set(held) == set(range(100))
    again, _ = split_indices(100, 0.1, seed=0, labels=labels)
    other, _ = split_indices(100, 0.1, seed=1, labels=labels)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)
    with pytest.raises(ValueError, match="fraction"):
        split_indices(10, 1.5, seed=0)


def test_splits_properties_and_validation() -> None:
    images = _uint8_set()
    splits = DatasetSplits("toy", images, images, images, 3, (0.5,) * 3, (0.25,) * 3, "cifar")
    assert splits.in_channels == 3 and splits.input_size == (4, 5) and not splits.segmentation
    assert splits.to("cpu").train is images
    with pytest.raises(ValueError, match="augment"):
        DatasetSplits("toy", images, images, images, 3, (0.5,) * 3, (0.25,) * 3, "imagenet")
    with pytest.raises(ValueError, match="3 channels"):
        DatasetSplits("toy", images, images, images, 3, (0.5,), (0.25,), None)


def test_registry_rejects_duplicates_and_lists_sorted() -> None:
    assert {"digits", "cifar10", "imagenet", "voc2011"} <= set(list_datasets())
    assert list_datasets() == sorted(list_datasets())
    assert list_datasets("cifar*") == ["cifar10"]

    @register_dataset("toy")
    def load_toy(root: Path) -> DatasetSplits:
        images = _uint8_set()
        return DatasetSplits("toy", images, images, images, 3, (0.5,) * 3, (0.25,) * 3, None)

    try:
        assert load_dataset("toy").name == "toy"
        with pytest.raises(ValueError, match="'toy' from elsewhere .* already registered by"):
            register_dataset("toy", origin="elsewhere")(load_toy)
    finally:
        core.DATASETS.unregister("toy")
    assert "toy" not in list_datasets()


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(
        UnknownDatasetError, match="unknown dataset 'nope'.*cifar10.*digits"
    ) as info:
        load_dataset("nope")
    assert isinstance(info.value, KeyError)


def test_data_root_precedence(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ROBUSTPRUNE_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("ROBUSTPRUNE_DATA")
    assert data_root() == tmp_path / "xdg" / "robustprune" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home" / ".cache" / "robustprune" / "data"


def test_load_dataset_uses_env_root(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ROBUSTPRUNE_DATA", str(tmp_path))
    with pytest.raises(
        DatasetNotFoundError, match=re.escape(str(tmp_path / "cifar-10-batches-py"))
    ) as info:
        load_dataset("cifar10")
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_imageset_lives_on_the_gpu() -> None:
    images = _uint8_set().to("cuda")
    assert images.images.is_cuda and images.labels.is_cuda
    x, y = images.batch(torch.tensor([2, 0]), "cuda")  # CPU index, GPU set
    assert x.is_cuda and x.dtype == torch.float32 and y.tolist() == [2, 0]
    x_cpu, _ = images.subset([1]).batch([0], "cpu")
    assert not x_cpu.is_cuda
