"""Small synthetic data the training and pipeline tests share (no dataset on disk)."""

from __future__ import annotations

import torch

from robustprune.data import DatasetSplits, ImageSet


def tiny_data(train: int = 96) -> DatasetSplits:
    """Four classes of random 1x6x6 images: ``train`` for training, 24 each for val and test."""
    generator = torch.Generator().manual_seed(0)

    def split(count: int) -> ImageSet:
        return ImageSet(
            torch.rand(count, 1, 6, 6, generator=generator),
            torch.randint(0, 4, (count,), generator=generator),
        )

    return DatasetSplits("tiny", split(train), split(24), split(24), 4, (0.5,), (0.25,))
