"""Shifted test sets (loaded vs generated, cached), the noise ball, and the Mix1 training set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robustprune.cache import ArtifactStore
from robustprune.data import CIFAR10_STD, DatasetSplits, ImageSet, normalize
from robustprune.data.shifts import (
    MIX1_TRAIN_CORRUPTIONS,
    corrupt,
    get_shift,
    mix1_assignment,
    mix1_splits,
    mix1_training_set,
    noise_ball,
    shifted_test_set,
)
from robustprune.data.shifts.synthetic import structured_images

STD = CIFAR10_STD


def _splits(name: str = "toy", count: int = 40) -> DatasetSplits:
    images = structured_images(count, seed=11)
    labels = torch.arange(count) % 10
    data = ImageSet(images, labels)
    return DatasetSplits(name, data, data, data, 10, (0.5, 0.5, 0.5), STD)


class CountingStore:
    """Records get_or_create calls and keeps artifacts in memory."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.saved: dict[str, tuple] = {}

    def get_or_create(self, kind, key_fields, build):  # type: ignore[no-untyped-def]
        self.calls.append((kind, key_fields))
        key = repr(sorted(key_fields.items()))
        computed = key not in self.saved
        if computed:
            self.saved[key] = build()
        tensors, meta = self.saved[key]
        return type("Artifact", (), {"tensors": tensors, "meta": meta, "computed": computed})()


def test_generated_set_is_the_corrupted_test_split() -> None:
    data = _splits()
    shifted, source = shifted_test_set(data, "corruption:gaussian_noise:3", seed=4)
    assert source == "generated"
    assert shifted.images.dtype == torch.uint8 and torch.equal(shifted.labels, data.test.labels)
    assert torch.equal(shifted.images, corrupt(data.test.images, "gaussian_noise", 3, seed=4))
    again, _ = shifted_test_set(data, "corruption:gaussian_noise:3", seed=4)
    other, _ = shifted_test_set(data, "corruption:gaussian_noise:3", seed=5)
    assert torch.equal(again.images, shifted.images) and not torch.equal(
        other.images, shifted.images
    )


def test_generated_sets_are_cached_with_their_key() -> None:
    store, data = CountingStore(), _splits()
    first, _ = shifted_test_set(data, "corruption:fog:2", seed=1, store=store)
    second, source = shifted_test_set(data, "corruption:fog:2", seed=1, store=store)
    assert source == "generated" and torch.equal(first.images, second.images)
    kind, key = store.calls[0]
    assert kind == "shift"
    assert {
        "dataset": "toy",
        "split": "test",
        "shift": "corruption:fog:2",
        "seed": 1,
    }.items() <= key.items()
    assert "generator_version" in key and len(store.saved) == 1


def test_real_artifact_store_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, data = ArtifactStore(tmp_path), _splits()
    first, _ = shifted_test_set(data, "corruption:snow:4", store=store)
    second, _ = shifted_test_set(data, "corruption:snow:4", store=ArtifactStore(tmp_path))
    assert torch.equal(first.images, second.images) and second.images.dtype == torch.uint8
    assert len(list((tmp_path / "shift").rglob("*.safetensors"))) == 1


def test_released_cifar10_c_is_loaded_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    released = np.random.default_rng(0).integers(0, 256, (5 * 4, 32, 32, 3), dtype=np.uint8)
    np.save(folder / "fog.npy", released)
    np.save(folder / "labels.npy", np.tile(np.arange(4), 5).astype(np.int64))
    data = _splits("cifar10", count=4)
    loaded, source = shifted_test_set(data, "corruption:fog:3", root=tmp_path)
    assert source == "loaded"
    assert torch.equal(loaded.images, torch.from_numpy(released[8:12]).permute(0, 3, 1, 2))
    _, source = shifted_test_set(data, "corruption:frost:3", root=tmp_path)  # not released here
    assert source == "generated"


def test_cifar10_1_is_only_a_shift_of_cifar10(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="'cifar10_1' is a shift of cifar10, not of 'toy'"):
        shifted_test_set(_splits(), "cifar10_1", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="'cifar10_1' not found"):
        shifted_test_set(_splits("cifar10", 4), "cifar10_1", root=tmp_path)
    folder = tmp_path / "cifar10_1"
    folder.mkdir()
    np.save(folder / "cifar10.1_v6_data.npy", np.zeros((6, 32, 32, 3), dtype=np.uint8))
    np.save(folder / "cifar10.1_v6_labels.npy", np.arange(6))
    loaded, source = shifted_test_set(_splits("cifar10", 4), "cifar10_1", root=tmp_path)
    assert source == "loaded" and len(loaded) == 6


def test_noise_ball_is_uniform_in_normalized_space() -> None:
    data = _splits()
    eps = 0.35
    shifted, source = shifted_test_set(data, f"noise:uniform:{eps}", seed=3)
    assert source == "generated" and shifted.images.dtype == torch.float32
    clean = data.test.images.float() / 255
    delta = normalize(shifted.images, data.mean, data.std) - normalize(clean, data.mean, data.std)
    assert delta.abs().max() <= eps + 1e-5
    assert delta.std().item() == pytest.approx(eps / 3**0.5, rel=0.03)
    assert shifted.images.min() < 0 or shifted.images.max() > 1  # not clipped
    zero, _ = shifted_test_set(data, "noise:uniform:0", seed=3)
    assert torch.equal(zero.images, clean)


def test_noise_ball_draws_are_seeded_and_distinct() -> None:
    x = torch.rand(4, 3, 8, 8)
    first = list(noise_ball(x, 0.1, STD, draws=3, seed=1))
    again = list(noise_ball(x, 0.1, STD, draws=3, seed=1))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1])
    assert torch.equal(
        get_shift("noise:uniform:0.1").apply(x, std=STD, seed=0),
        get_shift("noise:uniform:0.1").apply(x, std=STD, seed=0),
    )
    with pytest.raises(ValueError, match="std"):
        get_shift("noise:uniform:0.1").apply(x)


def test_mix1_assignment_proportions() -> None:
    which, severity = mix1_assignment(60000, seed=0)
    clean = which == -1
    assert clean.float().mean().item() == pytest.approx(1 / 6, abs=0.01)
    assert torch.all(severity[clean] == 0) and set(severity[~clean].unique().tolist()) == {
        1,
        2,
        3,
        4,
        5,
    }
    counts = torch.bincount(which[~clean], minlength=9).float() / (~clean).sum()
    assert torch.allclose(counts, torch.full((9,), 1 / 9), atol=0.01)


def test_mix1_training_set_keeps_clean_images_and_labels() -> None:
    data = _splits(count=120)
    mixed = mix1_training_set(data.train, seed=2)
    which, severity = mix1_assignment(120, seed=2)
    assert mixed.images.dtype == torch.uint8 and torch.equal(mixed.labels, data.train.labels)
    clean = which == -1
    assert torch.equal(mixed.images[clean], data.train.images[clean])
    changed = (mixed.images != data.train.images).flatten(1).any(1)
    assert changed[~clean].float().mean() > 0.9  # a corruption may leave a rare image unchanged
    assert torch.equal(mixed.images, mix1_training_set(data.train, seed=2).images)
    assert len(MIX1_TRAIN_CORRUPTIONS) == 9


def test_mix1_splits_replaces_train_and_caches() -> None:
    store, data = CountingStore(), _splits(count=30)
    mixed = mix1_splits(data, seed=0, store=store)
    assert mixed.test is data.test and mixed.train is not data.train
    assert (
        store.calls[0][0] == "shift"
        and store.calls[0][1]["split"] == "train"
        and store.calls[0][1]["shift"] == "mix1"
    )
