"""Datasets: in-memory `ImageSet`s, file-backed sets, `DatasetSplits`, and the dataset registry.

Registered: digits (embedded), cifar10, imagenet, voc2011. Shift sources read from disk:
`load_cifar10_1`, `load_cifar10_c`, `load_imagenet_c`. Layouts: docs/datasets.md.
"""

from __future__ import annotations

from robustprune.data.cifar import (
    CIFAR10_C_CORRUPTIONS,
    CIFAR10_MEAN,
    CIFAR10_STD,
    cifar10_c_available,
    load_cifar10_1,
    load_cifar10_c,
)
from robustprune.data.core import (
    DatasetNotFoundError,
    DatasetSplits,
    ImageSet,
    ImageSource,
    LabelRangeError,
    UnknownDatasetError,
    channel_stats,
    data_root,
    list_datasets,
    load_dataset,
    normalize,
    register_dataset,
    split_indices,
)
from robustprune.data.digits import digits_split_indices
from robustprune.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, FolderImageSet, load_imagenet_c
from robustprune.data.voc import VOC_IGNORE_INDEX, VOC_NUM_CLASSES, SegmentationSet

__all__ = [
    "CIFAR10_C_CORRUPTIONS",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VOC_IGNORE_INDEX",
    "VOC_NUM_CLASSES",
    "DatasetNotFoundError",
    "DatasetSplits",
    "FolderImageSet",
    "ImageSet",
    "ImageSource",
    "LabelRangeError",
    "SegmentationSet",
    "UnknownDatasetError",
    "channel_stats",
    "cifar10_c_available",
    "data_root",
    "digits_split_indices",
    "list_datasets",
    "load_cifar10_1",
    "load_cifar10_c",
    "load_dataset",
    "load_imagenet_c",
    "normalize",
    "register_dataset",
    "split_indices",
]
