"""The embedded digits dataset (the UCI optdigits test set as scikit-learn ships it: 1,797 8×8
grayscale images), shipped inside robustprune: no download, ever."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from robustprune.data.core import (
    DatasetSplits,
    ImageSet,
    channel_stats,
    register_dataset,
    split_indices,
)

DIGITS_SEED = 0  # fixed forever so results stay comparable across runs and versions
DIGITS_TEST_FRACTION = 0.25
DIGITS_VAL_FRACTION = 0.10


DIGITS_FILE = Path(__file__).with_name("digits.csv.gz")
"""The digits data shipped with robustprune (attribution and licence beside it)."""


def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """(pixels N×64 in 0..16, labels N) in ``sklearn.datasets.load_digits`` order, from the
    file shipped with robustprune (scikit-learn's copy of the UCI optdigits test set)."""
    table = np.loadtxt(DIGITS_FILE, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def digits_split_indices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices into sklearn's load_digits order: stratified, seed 0."""
    labels = bundled_digits()[1]
    rest, test = split_indices(len(labels), DIGITS_TEST_FRACTION, DIGITS_SEED, labels)
    kept, held = split_indices(len(rest), DIGITS_VAL_FRACTION, DIGITS_SEED, labels[rest])
    return rest[kept], rest[held], test


@register_dataset("digits")
def load_digits_splits(root: Path | None = None) -> DatasetSplits:
    """Digits as float32 [0, 1] N×1×8×8 (pixel values 0..16 divided by 16); `root` is unused."""
    pixels, targets = bundled_digits()
    images = torch.from_numpy((pixels / 16.0).astype(np.float32)).reshape(-1, 1, 8, 8)
    labels = torch.from_numpy(targets)
    everything = ImageSet(images, labels)
    train_idx, val_idx, test_idx = digits_split_indices()
    train = everything.subset(train_idx)
    mean, std = channel_stats(train.images)
    return DatasetSplits(
        name="digits",
        train=train,
        val=everything.subset(val_idx),
        test=everything.subset(test_idx),
        num_classes=10,
        mean=mean,
        std=std,
        augment=None,
    )
