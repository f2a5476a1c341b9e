"""CIFAR-10 pickles, CIFAR-10.1 and CIFAR-10-C arrays written in their exact formats and loaded."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from robustprune.data import (
    CIFAR10_MEAN,
    DatasetNotFoundError,
    cifar10_c_available,
    load_cifar10_1,
    load_cifar10_c,
    load_dataset,
)
from robustprune.data.cifar import read_cifar_batch

PER_BATCH = 20  # 5 × 20 = 100 training images, 10 per class


def _write_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    content = {
        b"batch_label": b"batch",
        b"labels": labels,
        b"data": data,
        b"filenames": [b"x.png"] * len(labels),
    }
    with open(path, "wb") as handle:
        pickle.dump(content, handle, protocol=2)


def _write_cifar10(root: Path) -> np.ndarray:
    """Write the torchvision python layout; returns the 100 train images as N×3072 uint8."""
    directory = root / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5 * PER_BATCH, 3072), dtype=np.uint8)
    labels = [i % 10 for i in range(5 * PER_BATCH)]
    for b in range(5):
        rows = slice(b * PER_BATCH, (b + 1) * PER_BATCH)
        _write_batch(directory / f"data_batch_{b + 1}", train[rows], labels[rows])
    _write_batch(
        directory / "test_batch", rng.integers(0, 256, (10, 3072), dtype=np.uint8), list(range(10))
    )
    names = [
        n.encode() for n in "airplane automobile bird cat deer dog frog horse ship truck".split()
    ]
    with open(directory / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": PER_BATCH}, handle, protocol=2)
    return train


def test_cifar10_loads_pickles_into_uint8_splits(tmp_path) -> None:
    raw = _write_cifar10(tmp_path)
    splits = load_dataset("cifar10", root=tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (90, 10, 10)
    assert np.bincount(splits.val.labels.numpy()).tolist() == [1] * 10  # stratified
    assert splits.train.images.dtype == torch.uint8 and splits.train.images.shape[1:] == (3, 32, 32)
    assert splits.mean == CIFAR10_MEAN and splits.augment == "cifar" and splits.num_classes == 10
    # Every stored image is one of the written rows, decoded channel-first (R plane = first 1024 bytes).
    written = {row.tobytes() for row in raw}
    assert all(img.numpy().reshape(-1).tobytes() in written for img in splits.train.images)
    first_r_plane = torch.from_numpy(raw[0, :1024].reshape(32, 32))
    combined = torch.cat([splits.train.images, splits.val.images])
    assert any(torch.equal(img[0], first_r_plane) for img in combined)
    x, y = splits.test.batch(torch.tensor([3]), "cpu")
    assert x.dtype == torch.float32 and y.tolist() == [3]
    again = load_dataset("cifar10", root=tmp_path)
    assert torch.equal(again.val.images, splits.val.images)


def test_cifar10_missing_file_names_path_and_files(tmp_path) -> None:
    _write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert (
        "test_batch" in message and "batches.meta" in message and "Missing: data_batch_3" in message
    )


def test_cifar_batch_reader_refuses_code(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        read_cifar_batch(path)


def test_cifar10_1(tmp_path) -> None:
    directory = tmp_path / "cifar10_1"
    directory.mkdir()
    images = np.random.default_rng(1).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    np.save(directory / "cifar10.1_v6_data.npy", images)
    np.save(directory / "cifar10.1_v6_labels.npy", np.arange(7, dtype=np.int64) % 10)
    loaded = load_cifar10_1(tmp_path)
    assert loaded.images.shape == (7, 3, 32, 32) and loaded.images.dtype == torch.uint8
    assert torch.equal(loaded.images[2].permute(1, 2, 0), torch.from_numpy(images[2]))
    assert loaded.labels.dtype == torch.int64 and loaded.labels.tolist() == list(range(7))


def test_cifar10_1_missing(tmp_path) -> None:
    with pytest.raises(
        DatasetNotFoundError,
        match=re.escape(str(tmp_path / "cifar10_1")) + ".*cifar10.1_v6_labels.npy",
    ):
        load_cifar10_1(tmp_path)


def test_cifar10_c_slices_the_severity_block(tmp_path) -> None:
    directory = tmp_path / "CIFAR-10-C"
    directory.mkdir()
    per = 4
    images = np.zeros((5 * per, 32, 32, 3), dtype=np.uint8)
    for severity in range(5):
        images[severity * per : (severity + 1) * per] = 10 * (severity + 1)
    images[2 * per + 1, 0, 0] = (1, 2, 3)
    np.save(directory / "fog.npy", images)
    np.save(directory / "labels.npy", np.tile(np.arange(per, dtype=np.uint8), 5))
    assert cifar10_c_available(tmp_path, "fog") and not cifar10_c_available(tmp_path, "snow")
    loaded = load_cifar10_c(tmp_path, "fog", 3)
    assert loaded.images.shape == (per, 3, 32, 32) and loaded.images.dtype == torch.uint8
    assert int(loaded.images[0].max()) == 30 and loaded.images[1, :, 0, 0].tolist() == [1, 2, 3]
    assert loaded.labels.dtype == torch.int64 and loaded.labels.tolist() == list(range(per))
    with pytest.raises(DatasetNotFoundError, match="snow.npy"):
        load_cifar10_c(tmp_path, "snow", 1)
    with pytest.raises(ValueError, match="1..5"):
        load_cifar10_c(tmp_path, "fog", 6)
    with pytest.raises(ValueError, match="valid: gaussian_noise"):
        load_cifar10_c(tmp_path, "fgo", 1)
