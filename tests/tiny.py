"""Small synthetic data the training and pipeline tests share (no dataset on disk), and a store
that records what it was asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from robustprune.cache import ArtifactStore
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


class RecordingStore(ArtifactStore):
    """An ArtifactStore that remembers ``(kind, key fields, computed)`` of every request."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.requests: list[tuple[str, dict[str, Any], bool]] = []

    def get_or_create(self, kind, key_fields, build):
        artifact = super().get_or_create(kind, key_fields, build)
        self.requests.append((kind, key_fields, artifact.computed))
        return artifact

    def computed(self) -> list[tuple[str, dict[str, Any]]]:
        """``(kind, key fields)`` of every request that computed its artifact."""
        return [(kind, fields) for kind, fields, computed in self.requests if computed]
