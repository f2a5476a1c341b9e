"""What several test modules share: small synthetic data (no dataset on disk), a store that
records what it was asked for, test pruners (random, seeded random, broken), the text of a conftest
that registers them, and the reproducible part of a leaderboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from robustprune.cache import ArtifactStore
from robustprune.data import DatasetSplits, ImageSet
from robustprune.leaderboard import reproducible_part
from robustprune.pruning import Pruner, parameter_count, prunable_weights

TESTS = Path(__file__).resolve().parent


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


class SeededRandom(Pruner):
    """Random weights from the generator ``seed``; already-zero weights go first (nested)."""

    name = "SeededRandom"
    structured = False
    data_informed = False

    def __init__(self, seed: int = 0) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = seed

    def prune(self, model, prune_ratio, sample):
        weights = prunable_weights(model)
        flat = torch.cat([w.detach().flatten() for w in weights.values()])
        scores = torch.rand(flat.numel(), generator=torch.Generator().manual_seed(self.seed))
        keep = torch.ones_like(flat, dtype=torch.bool)
        removed = round(prune_ratio * parameter_count(model))
        keep[(scores + (flat != 0)).argsort()[:removed]] = False
        masks, start = {}, 0
        for name, weight in weights.items():
            masks[name] = keep[start : start + weight.numel()].view(weight.shape)
            start += weight.numel()
        return masks


class RandomPruner(SeededRandom):
    """SeededRandom from generator 0, registered as ``Random``."""

    name = "Random"


class BrokenPruner(Pruner):
    """Returns a mask of the wrong shape: the harness must fail its case, and only its case."""

    name = "Broken"
    structured = False
    data_informed = False

    def prune(self, model, prune_ratio, sample):
        name = next(iter(prunable_weights(model)))
        return {name: torch.ones(3, dtype=torch.bool)}


def conftest_registering(*pruners: str) -> str:
    """The text of a conftest.py that registers these pruner classes of this module (by class
    name) through ``pytest_robustprune_pruners``, for a pytest run in another directory."""
    return (
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        f"from tiny import {', '.join(pruners)}\n\n\n"
        "def pytest_robustprune_pruners(registry):\n"
        + "".join(f"    registry.register({p}, origin='tests conftest.py')\n" for p in pruners)
    )


def reproducible_records(leaderboard: Path | dict[str, Any]) -> list[dict[str, Any]]:
    """A leaderboard's (file's) records without what legitimately differs between runs
    (``robustprune.leaderboard.reproducible_part``)."""
    board = json.loads(leaderboard.read_text()) if isinstance(leaderboard, Path) else leaderboard
    return [reproducible_part(record) for record in board["records"]]


def two_conv_net(in_channels: int, bias: bool = True) -> torch.nn.Module:
    """conv-BN-ReLU twice (16 filters), pooled into a Linear of 10 classes, in eval mode,
    initialised from seed 0: the smallest network with a prunable layer between two others."""
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1, bias=bias),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, bias=bias),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    ).eval()
