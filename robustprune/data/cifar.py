"""CIFAR-10 (torchvision's python-pickle files), CIFAR-10.1 v6 and CIFAR-10-C, read from disk.

Nothing is downloaded; a missing dataset raises `DatasetNotFoundError` naming the expected files.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import torch

from robustprune.data.core import (
    DatasetNotFoundError,
    DatasetSplits,
    ImageSet,
    data_root,
    register_dataset,
    split_indices,
)
from robustprune.distributions import SEVERITIES

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)  # the paper's constants
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_FILES = (*CIFAR10_TRAIN_FILES, "test_batch", "batches.meta")
CIFAR10_VAL_FRACTION = 0.10
CIFAR10_VAL_SEED = 0

CIFAR10_1_DIR = "cifar10_1"
CIFAR10_1_FILES = ("cifar10.1_v6_data.npy", "cifar10.1_v6_labels.npy")

CIFAR10_C_DIR = "CIFAR-10-C"
CIFAR10_C_CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
    "speckle_noise", "gaussian_blur", "spatter", "saturate",
)  # fmt: skip

# Only what a CIFAR batch pickle legitimately contains: numpy arrays, bytes, builtins.
_NUMPY_MODULES = {
    "numpy",
    "numpy.core.multiarray",
    "numpy._core.multiarray",
    "numpy.core.numeric",
    "numpy._core.numeric",
}
_NUMPY_NAMES = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickler that refuses every global except numpy's array reconstruction helpers."""

    def find_class(self, module: str, name: str) -> object:
        if (module in _NUMPY_MODULES and name in _NUMPY_NAMES) or (module, name) == (
            "_codecs",
            "encode",
        ):
            return super().find_class(module, name)  # _codecs.encode: bytes in protocol-2 pickles
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a CIFAR batch; only numpy arrays are allowed"
        )


def read_cifar_batch(path: Path) -> dict[bytes, object]:
    """One CIFAR python batch file as its dict (keys are bytes, e.g. b"data", b"labels")."""
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        content = _DataOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
        kind = pickle.UnpicklingError if isinstance(error, pickle.UnpicklingError) else ValueError
        raise kind(
            f"{path} is not a readable CIFAR batch ({type(error).__name__}: {error}); the file "
            "is damaged or not CIFAR's python version: download and extract it again"
        ) from None
    if not isinstance(content, dict):
        raise ValueError(
            f"{path} is not a CIFAR batch: expected a dict, got {type(content).__name__}"
        )
    return content


def _batch_arrays(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    content = read_cifar_batch(path)
    if b"data" not in content or b"labels" not in content:
        raise ValueError(
            f"{path} is not a CIFAR batch: keys {sorted(content)} lack b'data'/b'labels'"
        )
    data = np.asarray(content[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: b'data' must be N×3072 uint8, got shape {data.shape}")
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    labels = torch.as_tensor(np.asarray(content[b"labels"], dtype=np.int64))
    return images, labels


def _require(dataset: str, directory: Path, files: tuple[str, ...], hint: str = "") -> None:
    if not all((directory / name).is_file() for name in files):
        missing = [name for name in files if not (directory / name).is_file()]
        if not hint and len(missing) < len(files):
            hint = f"Missing: {', '.join(missing)}."
        raise DatasetNotFoundError(dataset, directory, files, hint)


def load_cifar10_arrays(
    root: str | os.PathLike[str] | None = None,
) -> tuple[ImageSet, ImageSet, int]:
    """(full train ImageSet of 50,000, test ImageSet of 10,000, number of classes), uint8 N×3×32×32."""
    directory = data_root(root) / CIFAR10_DIR
    _require("cifar10", directory, CIFAR10_FILES)
    meta = read_cifar_batch(directory / "batches.meta")
    num_classes = len(meta.get(b"label_names", [])) or 10  # type: ignore[arg-type]
    parts = {name: _batch_arrays(directory / name) for name in (*CIFAR10_TRAIN_FILES, "test_batch")}
    for name, (_, labels) in parts.items():
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if bad.numel():
            raise ValueError(
                f"{directory / name}: {bad.numel()} label(s) outside the {num_classes} classes "
                f"named in batches.meta, e.g. {sorted(set(bad[:5].tolist()))}; valid: "
                f"0..{num_classes - 1}"
            )
    train = ImageSet(
        torch.cat([parts[name][0] for name in CIFAR10_TRAIN_FILES]),
        torch.cat([parts[name][1] for name in CIFAR10_TRAIN_FILES]),
    )
    test = ImageSet(*parts["test_batch"])
    return train, test, num_classes


@register_dataset("cifar10")
def load_cifar10(root: Path) -> DatasetSplits:
    """CIFAR-10 with a seeded, stratified 10 % of the training set held out as `val`."""
    full_train, test, num_classes = load_cifar10_arrays(root)
    kept, held = split_indices(
        len(full_train), CIFAR10_VAL_FRACTION, CIFAR10_VAL_SEED, full_train.labels.numpy()
    )
    return DatasetSplits(
        name="cifar10",
        train=full_train.subset(kept),
        val=full_train.subset(held),
        test=test,
        num_classes=num_classes,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        augment="cifar",
    )


def _nhwc_to_imageset(images: np.ndarray, labels: np.ndarray, source: Path) -> ImageSet:
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{source}: expected uint8 N×H×W×3 images, got {images.dtype} {images.shape}"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return ImageSet(tensor, torch.from_numpy(np.asarray(labels, dtype=np.int64).copy()))


def load_cifar10_1(root: str | os.PathLike[str] | None = None) -> ImageSet:
    """CIFAR-10.1 v6 (2,000 test-only images, uint8 N×3×32×32, CIFAR-10 class indices)."""
    directory = data_root(root) / CIFAR10_1_DIR
    _require("cifar10_1", directory, CIFAR10_1_FILES)
    images = np.load(directory / CIFAR10_1_FILES[0])
    labels = np.load(directory / CIFAR10_1_FILES[1])
    return _nhwc_to_imageset(images, labels, directory)


def _check_corruption(corruption: str, severity: int | None = None) -> None:
    if corruption not in CIFAR10_C_CORRUPTIONS:
        raise ValueError(
            f"unknown CIFAR-10-C corruption {corruption!r}; valid: {', '.join(CIFAR10_C_CORRUPTIONS)}"
        )
    if severity is not None and severity not in SEVERITIES:
        raise ValueError(f"CIFAR-10-C severity must be 1..5, got {severity!r}")


def cifar10_c_available(root: str | os.PathLike[str] | None, corruption: str) -> bool:
    """True when <root>/CIFAR-10-C/<corruption>.npy and labels.npy both exist."""
    _check_corruption(corruption)
    directory = data_root(root) / CIFAR10_C_DIR
    return (directory / f"{corruption}.npy").is_file() and (directory / "labels.npy").is_file()


def load_cifar10_c(root: str | os.PathLike[str] | None, corruption: str, severity: int) -> ImageSet:
    """CIFAR-10-C images of `corruption` at `severity` (1..5), uint8 N×3×32×32 (10,000 in the release).

    The released arrays stack severities 1..5 in five equal blocks, each in CIFAR-10 test order.
    """
    _check_corruption(corruption, severity)
    directory = data_root(root) / CIFAR10_C_DIR
    _require("cifar10_c", directory, (f"{corruption}.npy", "labels.npy"))
    images = np.load(directory / f"{corruption}.npy", mmap_mode="r")
    labels = np.load(directory / "labels.npy", mmap_mode="r")
    if images.shape[0] % 5 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{directory}: {corruption}.npy has {images.shape[0]} images and labels.npy "
            f"{labels.shape[0]} labels; expected the same count, five equal severity blocks"
        )
    size = images.shape[0] // 5  # 10,000 in the release
    block = slice((severity - 1) * size, severity * size)
    return _nhwc_to_imageset(np.asarray(images[block]), np.asarray(labels[block]), directory)
