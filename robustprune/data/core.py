"""Image containers, dataset splits, normalization, the dataset registry and the data root.

Everything here is the contract in docs/architecture.md: images are stored un-normalized
(uint8 in [0, 255] or float32 in [0, 1]); normalization happens in the engine via `normalize`.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from robustprune.registry import Registry, UnknownNameError

AUGMENTATIONS = ("cifar", None)
DATA_ENV = "ROBUSTPRUNE_DATA"


class DatasetNotFoundError(FileNotFoundError):
    """An on-disk dataset is missing; the message names the expected path and files."""

    def __init__(
        self, dataset: str, path: Path | str, files: Sequence[str], hint: str = ""
    ) -> None:
        self.dataset = dataset
        self.path = Path(path)
        self.files = tuple(files)
        message = (
            f"dataset {dataset!r} not found: expected {self.path} containing "
            f"{', '.join(self.files)}. Put the files there, or point robustprune at the data "
            f"root that holds them (load_dataset(..., root=...), the {DATA_ENV} environment "
            f"variable, or pytest --rp-data); see docs/datasets.md."
        )
        if hint:
            message += f" {hint}"
        super().__init__(message)

    def __str__(self) -> str:  # FileNotFoundError would otherwise print only args[0]
        return str(self.args[0])


UnknownDatasetError = UnknownNameError
"""`load_dataset` got a name that is not registered; the message lists the valid names."""


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: `root` if given, else $ROBUSTPRUNE_DATA, else $XDG_CACHE_HOME (or ~/.cache)/robustprune/data."""
    if root is not None:
        return Path(root).expanduser()
    from_env = os.environ.get(DATA_ENV)
    if from_env:
        return Path(from_env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "robustprune" / "data"


def as_index(index: Tensor | Sequence[int] | np.ndarray, device: torch.device) -> Tensor:
    """``index`` as a 1-D long tensor on ``device``; a ValueError for any other shape."""
    index = torch.as_tensor(index, dtype=torch.long)
    if index.ndim != 1:
        raise ValueError(f"index must be 1-D, got shape {tuple(index.shape)}")
    return index.to(device)


def _labels_shape_ok(labels: Tensor, images: Tensor) -> bool:
    n, _, height, width = images.shape
    if labels.ndim == 1:
        return labels.shape[0] == n
    return labels.ndim == 3 and tuple(labels.shape) == (n, height, width)


class ImageSet:
    """An in-memory set of images (N×C×H×W, uint8 [0, 255] or float32 [0, 1]) with int64 labels.

    Labels are class indices (N) or segmentation masks (N×H×W). Small sets are moved to the
    device once with `to`; `batch` then gathers on the device without per-sample Python work.
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        if not isinstance(images, Tensor) or images.ndim != 4:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"ImageSet images must be an N×C×H×W tensor, got {shape}")
        if images.dtype not in (torch.uint8, torch.float32):
            raise ValueError(
                f"ImageSet images must be uint8 in [0, 255] or float32 in [0, 1], got {images.dtype}"
            )
        if not isinstance(labels, Tensor) or labels.dtype != torch.int64:
            dtype = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
            raise ValueError(f"ImageSet labels must be an int64 tensor, got {dtype}")
        if not _labels_shape_ok(labels, images):
            raise ValueError(
                f"ImageSet labels of shape {tuple(labels.shape)} do not match images of shape "
                f"{tuple(images.shape)}; expected (N,) class indices or (N, H, W) masks"
            )
        if labels.device != images.device:
            labels = labels.to(images.device)
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return (
            f"ImageSet(images={tuple(self.images.shape)} {self.images.dtype}, "
            f"labels={tuple(self.labels.shape)}, device={self.device})"
        )

    @property
    def device(self) -> torch.device:
        return self.images.device

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return (self.images.shape[2], self.images.shape[3])

    @property
    def segmentation(self) -> bool:
        """True when labels are N×H×W masks rather than class indices."""
        return self.labels.ndim == 3

    def to(self, device: torch.device | str) -> ImageSet:
        """This set with its tensors on `device` (a no-op when already there)."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        return ImageSet(self.images.to(device), self.labels.to(device))

    def batch(
        self, index: Tensor | Sequence[int] | np.ndarray, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """Images (float32 in [0, 1]) and labels at `index`, on `device` (default: where the set lives)."""
        target = torch.device(device) if device is not None else self.device
        index = as_index(index, self.device)
        images = self.images.index_select(0, index).to(target)
        labels = self.labels.index_select(0, index).to(target)
        if images.dtype == torch.uint8:
            images = images.float().div_(255.0)
        return images, labels

    def subset(self, index: Tensor | Sequence[int] | np.ndarray) -> ImageSet:
        """A new ImageSet holding the samples at `index` (copied)."""
        index = as_index(index, self.device)
        return ImageSet(self.images.index_select(0, index), self.labels.index_select(0, index))

    def batches(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Iterate over the set in batches of `batch_size` (last one smaller), optionally shuffled."""
        yield from _iterate(self, batch_size, device, shuffle, generator)


class FileBackedSet:
    """What sets that decode RGB files per batch share (ImageNet folders, VOC pairs).

    They live on the CPU as file lists; ``batch`` decodes and moves only the requested images.
    """

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def channels(self) -> int:
        return 3

    def to(self, device: torch.device | str):
        """Itself: files are decoded per batch and the batch is moved, not the set."""
        return self

    def batches(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Iterate over the set in batches of `batch_size` (last one smaller), optionally shuffled."""
        yield from _iterate(self, batch_size, device, shuffle, generator)


@runtime_checkable
class ImageSource(Protocol):
    """What the engine needs from a split: `ImageSet` or a file-backed set (`FolderImageSet`)."""

    labels: Tensor

    def __len__(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def image_size(self) -> tuple[int, int]: ...

    def to(self, device: torch.device | str) -> ImageSource: ...

    def subset(self, index: Tensor | Sequence[int] | np.ndarray) -> ImageSource: ...

    def batch(
        self, index: Tensor | Sequence[int] | np.ndarray, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]: ...


def _iterate(
    source: ImageSource,
    batch_size: int,
    device: torch.device | str | None,
    shuffle: bool,
    generator: torch.Generator | None,
) -> Iterator[tuple[Tensor, Tensor]]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    count = len(source)
    order = torch.randperm(count, generator=generator) if shuffle else torch.arange(count)
    for start in range(0, count, batch_size):
        yield source.batch(order[start : start + batch_size], device)


def normalize(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(images - mean) / std per channel for N×C×H×W float images in [0, 1]; returns a new tensor."""
    if images.ndim != 4:
        raise ValueError(f"normalize expects N×C×H×W images, got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"normalize expects float images in [0, 1], got {images.dtype}")
    channels = images.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(
            f"normalize got {len(mean)} means and {len(std)} stds for {channels} channels"
        )
    mean_t = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean_t) / std_t


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of N×C×H×W images, computed in [0, 1] units (float64 accumulation)."""
    values = images.double()
    if images.dtype == torch.uint8:
        values = values / 255.0
    per_channel = values.transpose(0, 1).reshape(images.shape[1], -1)
    mean = per_channel.mean(dim=1)
    std = per_channel.std(dim=1, unbiased=False)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def split_indices(
    count: int, fraction: float, seed: int, labels: np.ndarray | Tensor | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of range(count) into (kept, held_out) sorted index arrays.

    `fraction` in (0, 1) of the samples is held out (round(fraction * count) in total). With
    `labels` the split is stratified: each class gives its share, remainders by largest fraction.
    The algorithm is fixed so that a given seed gives the same split forever.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    rng = np.random.Generator(np.random.PCG64(seed))
    total = int(round(fraction * count))
    if labels is None:
        held = rng.permutation(count)[:total]
    else:
        labels = np.asarray(labels).reshape(-1)
        if labels.shape[0] != count:
            raise ValueError(f"split got {labels.shape[0]} labels for {count} samples")
        classes, class_counts = np.unique(labels, return_counts=True)
        exact = fraction * class_counts
        per_class = np.floor(exact).astype(np.int64)
        remainder = total - int(per_class.sum())
        # Largest fractional part first; ties go to the smaller class index (stable sort).
        order = np.argsort(-(exact - per_class), kind="stable")
        per_class[order[:remainder]] += 1
        held_parts = []
        for cls, take in zip(classes, per_class, strict=True):
            members = np.flatnonzero(labels == cls)
            held_parts.append(members[rng.permutation(members.shape[0])[:take]])
        held = np.concatenate(held_parts) if held_parts else np.zeros(0, dtype=np.int64)
    mask = np.zeros(count, dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


@dataclass(eq=False)
class DatasetSplits:
    """Train / val / test splits of one dataset plus what the engine needs to use them.

    `val` is the held-out 10 % of the training data (the pruners' sample set S comes from it);
    `mean`/`std` are per-channel in [0, 1] units; `augment` is "cifar" (pad 4 + crop + flip) or None.
    """

    name: str
    train: ImageSource
    val: ImageSource
    test: ImageSource
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str | None = None
    info: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(
                f"DatasetSplits {self.name!r}: augment must be one of {AUGMENTATIONS}, got {self.augment!r}"
            )
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(
                f"DatasetSplits {self.name!r}: mean/std have {len(self.mean)}/{len(self.std)} "
                f"entries for {self.in_channels} channels"
            )

    @property
    def in_channels(self) -> int:
        return self.train.channels

    @property
    def input_size(self) -> tuple[int, int]:
        """(H, W) in pixels of the images the model sees."""
        return self.train.image_size

    @property
    def segmentation(self) -> bool:
        """True for dense (per-pixel) labels, e.g. VOC."""
        return bool(getattr(self.train, "segmentation", False))

    def to(self, device: torch.device | str) -> DatasetSplits:
        """The same splits with in-memory sets moved to `device` (file-backed sets stay as they are)."""
        return DatasetSplits(
            self.name,
            self.train.to(device),
            self.val.to(device),
            self.test.to(device),
            self.num_classes,
            self.mean,
            self.std,
            self.augment,
            dict(self.info),
        )


Loader = Callable[[Path], DatasetSplits]


def _as_loader(name: str, loader: Loader, origin: str) -> Loader:
    if not callable(loader):
        raise TypeError(
            f"dataset {name!r} must be a loader fn(root: Path) -> DatasetSplits, got {loader!r}"
        )
    return loader


DATASETS: Registry[Loader] = Registry("datasets", check=_as_loader)
"""Every dataset loader: built-ins, ``@register_dataset``, entry points (group
``robustprune.datasets``) and ``pytest_robustprune_datasets``."""


def register_dataset(name: str, origin: str | None = None) -> Callable[[Loader], Loader]:
    """Decorator registering `loader(root: Path) -> DatasetSplits` under `name`; duplicates raise
    naming both origins (`origin` defaults to `robustprune (<module>)`)."""

    def decorate(loader: Loader) -> Loader:
        return DATASETS.register(name, loader, origin or f"robustprune ({loader.__module__})")

    return decorate


def list_datasets(include: str | None = None) -> list[str]:
    """Registered dataset names, sorted; `include` filters with a glob pattern (e.g. "cifar*")."""
    names = DATASETS.names()
    if include is not None:
        names = [name for name in names if fnmatch.fnmatchcase(name, include)]
    return names


class LabelRangeError(ValueError):
    """A dataset's labels fall outside its classes (and its declared ignore label)."""


def load_dataset(name: str, root: str | os.PathLike[str] | None = None) -> DatasetSplits:
    """Load the registered dataset `name` from the data root (see `data_root`); its in-memory
    labels are checked against `num_classes` (LabelRangeError naming the split and the loader)."""
    loader = dataset_loader(name)
    directory = data_root(root)
    data = loader(directory)
    where = (
        f"dataset {name!r} (loaded by {loader.__module__}.{loader.__qualname__} from "
        f"{DATASETS.origin(name)}, data root {directory})"
    )
    check_labels(data, where)
    return data


def ignore_label(data: DatasetSplits) -> int | None:
    """The label that marks pixels to skip, when the dataset declares one (VOC: 255), else None."""
    value = data.info.get("ignore_index")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_labels(data: DatasetSplits, where: str) -> None:
    """Every label of an in-memory split (and the class labels of any split) is a class index in
    ``[0, num_classes)`` or the dataset's declared ignore label; LabelRangeError otherwise.

    Without the check a label of 10 or -1 failed deep in training with an IndexError that named
    neither file nor dataset, and 255 was silently skipped as if it were VOC's ignore label.
    """
    ignore = ignore_label(data)
    for split in ("train", "val", "test"):
        source = getattr(data, split)
        if not isinstance(source, ImageSet) and getattr(source, "segmentation", False):
            continue  # file-backed masks decode per batch: reading them all here costs too much
        labels = source.labels
        if labels.numel() == 0:
            continue
        bad = (labels < 0) | (labels >= data.num_classes)
        if ignore is not None:
            bad &= labels != ignore
        if bool(bad.any()):
            values = sorted({int(v) for v in labels[bad].unique()[:5].tolist()})
            allowed = f"0..{data.num_classes - 1}" + (
                f" or the ignore label {ignore}" if ignore is not None else ""
            )
            hint = (
                ""
                if ignore is not None or 255 not in values
                else "; 255 is an ignore label only for a dataset that declares it "
                "(DatasetSplits info={'ignore_index': 255}, as VOC does)"
            )
            raise LabelRangeError(
                f"{where}: the {split} split has {int(bad.sum())} label(s) outside the "
                f"{data.num_classes} classes, e.g. {values}; valid: {allowed}{hint}"
            )


def dataset_loader(name: str) -> Loader:
    """The loader registered as `name` (what computed the dataset, for cache keys and records);
    raises UnknownDatasetError listing the valid names."""
    return DATASETS.get(name)
