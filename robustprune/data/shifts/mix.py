"""Robust-training mixes: the paper's "Mix1" training set (nine corruptions trained on, ten held out)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from robustprune.data.cifar import CIFAR10_C_CORRUPTIONS
from robustprune.data.core import ImageSet
from robustprune.data.shifts.dataset import CHUNK, GENERATOR_VERSION, SHIFT_KIND
from robustprune.data.shifts.registry import corrupt
from robustprune.distributions import SEVERITIES

CIFAR10_C_NAMES = tuple(sorted(CIFAR10_C_CORRUPTIONS))
"""CIFAR-10-C's 19 corruptions, sorted by name."""
MIX1_TRAIN_CORRUPTIONS = (
    "contrast",
    "elastic_transform",
    "gaussian_blur",
    "impulse_noise",
    "motion_blur",
    "pixelate",
    "shot_noise",
    "snow",
    "zoom_blur",
)
MIX1_TEST_CORRUPTIONS = tuple(n for n in CIFAR10_C_NAMES if n not in MIX1_TRAIN_CORRUPTIONS)
CLEAN_PROBABILITY = 1 / 6


def mix1_assignment(count: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Per image: index into MIX1_TRAIN_CORRUPTIONS (-1 = clean, probability 1/6) and severity
    (1..5 uniform, 0 when clean); int64 tensors of length `count`."""
    generator = torch.Generator().manual_seed(int(seed))
    clean = torch.rand(count, generator=generator) < CLEAN_PROBABILITY
    which = torch.randint(0, len(MIX1_TRAIN_CORRUPTIONS), (count,), generator=generator)
    severity = torch.randint(SEVERITIES[0], SEVERITIES[-1] + 1, (count,), generator=generator)
    return torch.where(clean, -1, which), torch.where(clean, 0, severity)


def mix1_training_set(images: Any, seed: int = 0) -> Any:
    """A copy of `images` (an ImageSet) where each image is clean with probability 1/6, else one
    of the nine Mix1 corruptions at a uniform severity 1..5; same dtype, labels kept."""
    if not hasattr(images, "images"):
        raise ValueError(f"Mix1 needs an in-memory ImageSet, got {type(images).__name__}")
    which, severity = mix1_assignment(len(images), seed)
    out = images.images.clone()
    generator = torch.Generator().manual_seed(int(seed) + 1)
    for index, name in enumerate(MIX1_TRAIN_CORRUPTIONS):
        for level in SEVERITIES:
            members = ((which == index) & (severity == level)).nonzero().squeeze(1)
            for start in range(0, len(members), CHUNK):
                part = members[start : start + CHUNK].to(out.device)
                out[part] = corrupt(out[part], name, level, generator=generator)
    return ImageSet(out, images.labels.clone())


def mix1_splits(data: Any, seed: int = 0, store: Any | None = None) -> Any:
    """`data` (a DatasetSplits) with its train split replaced by the Mix1 set, cached in `store`
    (kind "shift", split "train", shift "mix1") when given."""
    if store is None:
        return dataclasses.replace(data, train=mix1_training_set(data.train, seed))

    def build() -> tuple[dict[str, Tensor], dict[str, Any]]:
        mixed = mix1_training_set(data.train, seed)
        return {"images": mixed.images, "labels": mixed.labels}, {"source": "generated"}

    key = {
        "dataset": data.name,
        "split": "train",
        "shift": "mix1",
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
        "count": len(data.train),
    }
    artifact = store.get_or_create(SHIFT_KIND, key, build)
    return dataclasses.replace(
        data, train=ImageSet(artifact.tensors["images"], artifact.tensors["labels"])
    )
