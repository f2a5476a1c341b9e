"""Canny edges as cv2.Canny(image, 50, 150): against OpenCV's output stored in
tests/fixtures/canny_opencv.npz (tests/fixtures/make_canny_opencv.py), hand-made edges, and
live OpenCV when it is installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from robustprune.data.shifts import corrupt
from robustprune.data.shifts.canny import canny, hysteresis

FIXTURE = Path(__file__).parent / "fixtures" / "canny_opencv.npz"
SETS = ("liquid1", "liquid2", "liquid3", "noise", "small", "smooth")


@pytest.mark.parametrize("name", SETS)
def test_equals_opencv_on_stored_images(name: str) -> None:
    stored = np.load(FIXTURE)
    images, expected = stored[name], stored[f"{name}_edges"]
    assert expected.any() and not expected.all()
    ours = canny(torch.from_numpy(images), 50, 150).numpy()
    assert np.array_equal(ours, expected), f"{(ours != expected).sum()} pixels differ"


def test_vertical_step_gives_one_column() -> None:
    image = torch.zeros(1, 12, 12)
    image[..., 6:] = 200
    edges = canny(image, 50, 150)
    # both columns 5 and 6 have |dx| = 800; OpenCV keeps the first (m > left, m >= right)
    assert edges[0, :, 5].all() and edges.sum() == 12


def test_diagonal_step_and_flat_image() -> None:
    ys, xs = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    image = ((xs + ys) >= 16).float()[None] * 255
    edges = canny(image, 50, 150)[0]
    assert edges.any() and all(int(edges[y].sum()) <= 2 for y in range(16))  # a thin line
    assert not canny(torch.full((2, 8, 8), 90.0), 50, 150).any()


def test_hysteresis_keeps_weak_pixels_connected_to_strong_ones() -> None:
    strong = torch.zeros(1, 6, 10, dtype=torch.bool)
    candidate = torch.zeros_like(strong)
    candidate[0, 1, 1:9] = True  # a weak line touching one strong pixel (diagonal link included)
    strong[0, 2, 0] = True
    candidate[0, 4, 2:8] = True  # a weak line with no strong pixel
    edges = hysteresis(strong, candidate | strong)
    assert edges[0, 1, 1:9].all() and edges[0, 2, 0] and not edges[0, 4].any()


def test_thresholds_decide_weak_and_strong() -> None:
    image = torch.zeros(1, 10, 10)
    image[..., 5:] = 20  # |dx| = 80: a candidate above 50 but not above 150
    assert not canny(image, 50, 150).any()
    assert canny(image, 50, 70)[0, :, 4].all()


def test_matches_live_opencv_when_installed() -> None:
    cv2 = pytest.importorskip("cv2")
    generator = torch.Generator().manual_seed(7)
    images = (torch.rand(50, 20, 27, generator=generator) * 256).floor().to(torch.uint8)
    smooth = torch.nn.functional.avg_pool2d(images[:, None].float(), 3, 1, 1)[:, 0].floor()
    for batch in (images, smooth.to(torch.uint8)):
        expected = np.stack([cv2.Canny(image, 50, 150) > 0 for image in batch.numpy()])
        assert np.array_equal(canny(batch, 50, 150).numpy(), expected)


def test_spatter_water_uses_the_canny_edges() -> None:
    x = torch.full((6, 3, 32, 32), 0.3)
    out = corrupt(x, "spatter", 3, seed=2)
    assert (out - x).abs().amax() > 0.1  # water streaks were painted
    assert torch.equal(out, corrupt(x, "spatter", 3, seed=2))
