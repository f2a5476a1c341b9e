"""Corruptions applied at a higher resolution (`corruption:<name>:<severity>@<px>`): nearest
upsampling, the corruption at that size, k×k block means back to the original size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robustprune.data import DatasetSplits, ImageSet
from robustprune.data.shifts import corrupt, get_shift, shifted_test_set
from robustprune.data.shifts.ops import block_mean, upsample_nearest


def _digits_like(count: int = 12, seed: int = 0) -> torch.Tensor:
    """8×8 float images with values k/16 (k = 0..16), like scikit-learn's digits."""
    counts = torch.randint(0, 17, (count, 1, 8, 8), generator=torch.Generator().manual_seed(seed))
    return counts.float() / 16


def test_round_trip_without_corruption_is_the_identity() -> None:
    x = _digits_like()
    up = upsample_nearest(x, 4)
    assert up.shape == (12, 1, 32, 32)
    assert torch.equal(up[:, :, 4:8, 8:12], x[:, :, 1:2, 2:3].expand(-1, -1, 4, 4))
    assert torch.equal(block_mean(up, 4), x)


@pytest.mark.parametrize("name,severity", [("zoom_blur", 3), ("gaussian_noise", 3), ("fog", 2)])
def test_corruption_at_32_equals_the_direct_computation(name: str, severity: int) -> None:
    x = _digits_like()
    out = corrupt(x, name, severity, seed=5, resolution=32)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.equal(out, x)
    # independent computation: numpy nearest upsampling, corrupt at 32×32, numpy block means
    big = torch.from_numpy(np.kron(x.numpy(), np.ones((1, 1, 4, 4), dtype=np.float32)))
    corrupted = corrupt(big, name, severity, seed=5).numpy()
    expected = corrupted.reshape(12, 1, 8, 4, 8, 4).mean(axis=(3, 5))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)
    assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_at_32_differs_from_the_8x8_corruption_where_8x8_is_the_identity() -> None:
    x = _digits_like()
    # σ = 0.175 px at 8×8: the neighbours' weight is exp(-16.3), so nothing changes
    assert (corrupt(x, "gaussian_blur", 3) - x).abs().max() < 1e-6
    assert (corrupt(x, "gaussian_blur", 3, resolution=32) - x).abs().max() > 0.05


def test_uint8_images_keep_their_dtype_and_range() -> None:
    x = (_digits_like() * 255).to(torch.uint8)
    out = corrupt(x, "zoom_blur", 3, resolution=32)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    expected = corrupt(x.float() / 255, "zoom_blur", 3, resolution=32)
    assert torch.equal(out, (expected * 255).to(torch.uint8))


@pytest.mark.parametrize(
    "shape,resolution,match",
    [
        ((2, 1, 8, 8), 30, "resolution 30 px is not a multiple of the image side 8"),
        ((2, 1, 8, 12), 24, "needs square images, got 8×12"),
        ((2, 1, 8, 8), 0, "resolution must be a positive int, got 0"),
    ],
)
def test_bad_resolutions_name_the_problem(shape: tuple, resolution: int, match: str) -> None:
    with pytest.raises(ValueError, match=f"'fog'.*{match}"):
        corrupt(torch.rand(shape), "fog", 1, resolution=resolution)


def test_shift_names_carry_the_resolution() -> None:
    shift = get_shift("corruption:zoom_blur:3@32")
    assert (shift.name, shift.corruption, shift.severity, shift.resolution) == (
        "corruption:zoom_blur:3@32",
        "zoom_blur",
        3,
        32,
    )
    assert get_shift("corruption:zoom_blur:3").resolution is None
    for bad in (
        "corruption:fog:3@",
        "corruption:fog:3@x",
        "corruption:fog:3@2",
        "corruption:fog:@32",
    ):
        with pytest.raises(ValueError, match=r"\[@<resolution 4..1024 px>\]|@2 is outside 4..1024"):
            get_shift(bad)
    x = _digits_like()
    assert torch.equal(shift.apply(x, seed=1), corrupt(x, "zoom_blur", 3, seed=1, resolution=32))


def test_shifted_test_set_generates_and_caches_at_the_resolution() -> None:
    x = _digits_like(20)
    data = ImageSet(x, torch.arange(20) % 10)
    splits = DatasetSplits("digits", data, data, data, 10, (0.5,), (0.25,))
    shifted, source = shifted_test_set(splits, "corruption:motion_blur:2@32", seed=3)
    assert source == "generated"
    assert torch.equal(shifted.images, corrupt(x, "motion_blur", 2, seed=3, resolution=32))
    plain, _ = shifted_test_set(splits, "corruption:motion_blur:2", seed=3)
    assert not torch.equal(plain.images, shifted.images)
