"""The embedded digits dataset: shapes, value range, and a split fixed forever."""

from __future__ import annotations

import numpy as np
import torch

from robustprune.data import digits_split_indices, load_dataset


def test_digits_shapes_dtypes_and_sizes() -> None:
    splits = load_dataset("digits")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1213, 135, 449)
    assert splits.num_classes == 10 and splits.augment is None
    assert splits.in_channels == 1 and splits.input_size == (8, 8)
    for part in (splits.train, splits.val, splits.test):
        assert part.images.dtype == torch.float32 and part.images.shape[1:] == (1, 8, 8)
        assert part.labels.dtype == torch.int64
    assert float(splits.train.images.max()) == 1.0 and float(splits.train.images.min()) == 0.0


def test_digits_mean_std_come_from_train() -> None:
    splits = load_dataset("digits")
    assert splits.mean[0] == float(splits.train.images.double().mean())
    assert abs(splits.std[0] - float(splits.train.images.double().std(unbiased=False))) < 1e-12
    assert splits.mean[0] != float(splits.test.images.double().mean())


def test_digits_split_is_disjoint_stratified_and_fixed_forever() -> None:
    train, val, test = digits_split_indices()
    assert len(set(train) | set(val) | set(test)) == 1797
    assert len(train) + len(val) + len(test) == 1797
    splits = load_dataset("digits")
    everything = np.bincount(
        np.concatenate([splits.train.labels, splits.val.labels, splits.test.labels])
    )
    # Stratified: every class gives its 25 % share to within one image.
    share = np.bincount(splits.test.labels.numpy()) - everything * 0.25
    assert np.all(np.abs(share) < 1.0)
    # Pinned: changing these changes every digits result; do it only with a baseline refresh.
    assert test[:8].tolist() == [1, 5, 9, 12, 14, 15, 16, 17]
    assert int(test.sum()) == 403776 and int(val.sum()) == 127111
    again = load_dataset("digits")
    assert torch.equal(again.val.images, splits.val.images)


def test_bundled_file_matches_sklearn_load_digits() -> None:
    from sklearn.datasets import load_digits

    from robustprune.data.digits import bundled_digits

    pixels, labels = bundled_digits()
    reference = load_digits()
    assert (pixels == reference.data).all() and (labels == reference.target).all()
