"""The 19 corruptions: contract (shape, dtype, range, determinism, sizes, channels), faithfulness
to CIFAR-10-C (closed forms, noise statistics, blur kernels, reference loops), severity order."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import scipy.ndimage as ndimage
import torch
from PIL import Image

from robustprune.data.shifts import corrupt, corruptions_for, list_corruptions, ops
from robustprune.data.shifts.blur import disk_kernel, glass_shuffle, motion_blur_images, motion_taps
from robustprune.data.shifts.registry import CorruptionContext, RandomSource
from robustprune.data.shifts.synthetic import structured_images

DETERMINISTIC = {
    "brightness",
    "contrast",
    "defocus_blur",
    "gaussian_blur",
    "jpeg_compression",
    "pixelate",
    "saturate",
    "zoom_blur",
}
# Pixel distance from the clean image is not strictly increasing in severity for these, by
# construction of CIFAR-10-C's parameters (see docs/shifts.md, "Severity and distance").
NOT_MONOTONE = {"elastic_transform", "frost", "glass_blur", "motion_blur", "saturate", "spatter"}


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return structured_images(24, seed=3)


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal within float32 rounding (corruptions compute in float32)."""
    torch.testing.assert_close(actual, expected.to(actual.dtype), atol=2e-6, rtol=0)


def _distance(clean: torch.Tensor, shifted: torch.Tensor) -> float:
    return (shifted.float() - clean.float()).pow(2).mean().sqrt().item()


@pytest.fixture(scope="module")
def distances(images: torch.Tensor) -> dict[str, list[float]]:
    return {
        n: [_distance(images, corrupt(images, n, s, seed=0)) for s in range(1, 6)]
        for n in list_corruptions()
    }


@pytest.mark.parametrize("name", list_corruptions())
def test_uint8_and_float_contract(name: str, images: torch.Tensor) -> None:
    out = corrupt(images, name, 3, seed=1)
    assert out.shape == images.shape and out.dtype == torch.uint8
    as_float = images.float() / 255
    out_float = corrupt(as_float, name, 3, seed=1)
    assert out_float.dtype == torch.float32 and out_float.shape == images.shape
    assert out_float.min() >= 0 and out_float.max() <= 1
    # the uint8 result is the float result truncated, as CIFAR-10-C's np.uint8(...) does
    assert (out.float() - (out_float * 255).floor()).abs().max() <= 1


@pytest.mark.parametrize("name", list_corruptions())
def test_deterministic_for_a_seed(name: str, images: torch.Tensor) -> None:
    first = corrupt(images[:8], name, 4, seed=7)
    assert torch.equal(first, corrupt(images[:8], name, 4, seed=7))
    generator = torch.Generator().manual_seed(7)
    assert torch.equal(first, corrupt(images[:8], name, 4, generator=generator))
    other = corrupt(images[:8], name, 4, seed=8)
    assert torch.equal(first, other) == (name in DETERMINISTIC)


@pytest.mark.parametrize("name", list_corruptions())
def test_small_gray_images(name: str) -> None:
    gray = structured_images(6, channels=1, size=(8, 8), seed=1)
    if name not in corruptions_for(1, (8, 8)):
        with pytest.raises(ValueError, match=f"'{name}'.*1-channel"):
            corrupt(gray, name, 3)
        return
    for severity in (1, 5):
        out = corrupt(gray, name, severity, seed=0)
        assert out.shape == (6, 1, 8, 8) and out.dtype == torch.uint8


@pytest.mark.parametrize("name", list_corruptions())
def test_non_square_float64(name: str) -> None:
    x = structured_images(3, size=(24, 40), seed=2).double() / 255
    out = corrupt(x, name, 2)
    assert out.shape == x.shape and out.dtype == torch.float64 and 0 <= out.min() <= out.max() <= 1


@pytest.mark.parametrize("name", sorted(set(list_corruptions()) - NOT_MONOTONE))
def test_distance_grows_with_severity(name: str, distances: dict[str, list[float]]) -> None:
    d = distances[name]
    assert all(b > a for a, b in zip(d, d[1:], strict=False)), d


def test_documented_severity_exceptions(distances: dict[str, list[float]]) -> None:
    elastic, saturate, glass = (
        distances["elastic_transform"],
        distances["saturate"],
        distances["glass_blur"],
    )
    assert all(b < a for a, b in zip(elastic, elastic[1:], strict=False))  # the affine part shrinks
    assert (
        saturate[1] > saturate[0] and saturate[2] < saturate[3] < saturate[4]
    )  # desaturate, then saturate
    assert min(glass[3:]) > max(glass[:3])  # only the second shuffling pass adds distance
    frost, spatter, motion = distances["frost"], distances["spatter"], distances["motion_blur"]
    assert frost[0] < frost[1] < frost[2]  # then a < 1 cancels part of the added frost
    assert spatter[0] < spatter[1] < spatter[2] and spatter[3] < spatter[4]  # water, then mud
    assert (
        motion[0] < motion[1] < motion[2] <= motion[3] + 1e-3 < motion[4]
    )  # radius 6 -> 8 at σ 2: same kernel


def test_contrast_closed_form() -> None:
    x = torch.rand(4, 3, 16, 16, dtype=torch.float64)
    for severity, factor in enumerate((0.75, 0.5, 0.4, 0.3, 0.15), start=1):
        mean = x.mean(dim=(2, 3), keepdim=True)
        _close(corrupt(x, "contrast", severity), (x - mean) * factor + mean)


def test_brightness_closed_form() -> None:
    x = torch.rand(4, 3, 16, 16, dtype=torch.float64)
    x[0, :, 0, 0] = 0  # black: V = 0, S = 0 -> gray of value c
    value = x.amax(dim=1, keepdim=True)
    for severity, shift in enumerate((0.05, 0.1, 0.15, 0.2, 0.3), start=1):
        new_value = (value + shift).clamp(max=1)
        expected = torch.where(
            value > 0, x * new_value / value.clamp_min(1e-12), new_value.expand_as(x)
        )
        _close(corrupt(x, "brightness", severity), expected)
    gray = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    _close(corrupt(gray, "brightness", 5), (gray + 0.3).clamp(max=1))


def test_saturate_closed_form() -> None:
    x = torch.rand(4, 3, 16, 16, dtype=torch.float64)
    x[0, :, 0, 0] = 0.5  # gray: skimage gives hue 0 (red), so S' = b tints it red
    value, low = x.amax(dim=1, keepdim=True), x.amin(dim=1, keepdim=True)
    saturation = (value - low) / value
    for severity, (scale, offset) in enumerate(
        ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)), start=1
    ):
        new = (saturation * scale + offset).clamp(0, 1)
        expected = value - (value - x) * new / saturation.clamp_min(1e-12)
        red = torch.cat((value, value * (1 - new), value * (1 - new)), dim=1)
        expected = torch.where(saturation > 0, expected, red)
        _close(corrupt(x, "saturate", severity), expected)


def test_uint8_output_truncates() -> None:
    x = torch.full((1, 3, 8, 8), 100, dtype=torch.uint8)
    out = corrupt(x, "contrast", 1)  # constant image: (x - mean)·c + mean = x exactly in floats
    assert torch.all(out == 99) or torch.all(out == 100)
    assert torch.equal(
        corrupt(x, "brightness", 5)[:, :, 0, 0].flatten(),
        torch.tensor([176, 176, 176], dtype=torch.uint8),
    )


@pytest.mark.parametrize("severity,sigma", list(enumerate((0.04, 0.06, 0.08, 0.09, 0.10), start=1)))
def test_gaussian_noise_std(severity: int, sigma: float) -> None:
    x = torch.full((8, 3, 32, 32), 0.5)
    noise = corrupt(x, "gaussian_noise", severity, seed=severity) - x
    assert noise.mean().abs() < 0.003
    assert noise.std().item() == pytest.approx(sigma, rel=0.03)


@pytest.mark.parametrize("severity,rate", list(enumerate((500, 250, 100, 75, 50), start=1)))
def test_shot_noise_is_poisson(severity: int, rate: int) -> None:
    x = torch.full((8, 3, 32, 32), 0.5)
    out = corrupt(x, "shot_noise", severity, seed=severity)
    assert torch.allclose(out * rate, (out * rate).round(), atol=1e-3)  # counts / rate
    assert (out - x).std().item() == pytest.approx((0.5 / rate) ** 0.5, rel=0.04)


@pytest.mark.parametrize("severity,sigma", list(enumerate((0.06, 0.10, 0.12, 0.16, 0.20), start=1)))
def test_speckle_noise_std(severity: int, sigma: float) -> None:
    x = torch.full((8, 3, 32, 32), 0.4)
    assert (corrupt(x, "speckle_noise", severity, seed=1) - x).std().item() == pytest.approx(
        0.4 * sigma, rel=0.03
    )


@pytest.mark.parametrize(
    "severity,amount", list(enumerate((0.01, 0.02, 0.03, 0.05, 0.07), start=1))
)
def test_impulse_noise_amount(severity: int, amount: float) -> None:
    x = torch.full(
        (64, 3, 32, 32), 0.5
    )  # >= 1,900 flips: the salt share is within 0.05 at > 4 sigma
    out = corrupt(x, "impulse_noise", severity, seed=2)
    changed = out != 0.5
    assert changed.float().mean().item() == pytest.approx(amount, rel=0.08)
    assert set(out[changed].unique().tolist()) == {0.0, 1.0}
    assert (out[changed] == 1).float().mean().item() == pytest.approx(0.5, abs=0.05)
    # channels are flipped independently
    assert not torch.equal(changed[:, 0], changed[:, 1])


@pytest.mark.parametrize("severity,sigma", list(enumerate((0.4, 0.6, 0.7, 0.8, 1.0), start=1)))
def test_gaussian_blur_matches_scipy(severity: int, sigma: float) -> None:
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    expected = ndimage.gaussian_filter(
        x.numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", truncate=4.0
    )
    _close(corrupt(x, "gaussian_blur", severity), torch.from_numpy(expected).clamp(0, 1))


def _cv2_gaussian_3x3(sigma: float) -> np.ndarray:
    taps = np.exp(-(np.arange(-1, 2) ** 2) / (2 * sigma**2))
    taps /= taps.sum()
    return np.outer(taps, taps)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_defocus_kernel_and_filter(severity: int) -> None:
    radius, alias = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))[severity - 1]
    kernel = disk_kernel(radius, alias).numpy()
    disk = (np.add.outer(np.arange(-8, 9) ** 2, np.arange(-8, 9) ** 2) <= radius**2).astype(float)
    expected = ndimage.correlate(disk / disk.sum(), _cv2_gaussian_3x3(alias), mode="mirror")
    reach = kernel.shape[0] // 2
    np.testing.assert_allclose(
        kernel, expected[8 - reach : 9 + reach, 8 - reach : 9 + reach], atol=1e-15
    )
    assert np.abs(expected).sum() == pytest.approx(
        np.abs(kernel).sum()
    )  # nothing trimmed but zeros
    if radius < 1:  # severities 1-3 are a 3×3 Gaussian of sigma = alias
        np.testing.assert_allclose(kernel, _cv2_gaussian_3x3(alias), atol=1e-12)
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    reference = np.stack(
        [[ndimage.correlate(c, kernel, mode="mirror") for c in image] for image in x.numpy()]
    )
    _close(corrupt(x, "defocus_blur", severity), torch.from_numpy(reference).clamp(0, 1))


def _scipy_clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    h = image.shape[1]
    crop = int(np.ceil(h / factor))
    top = (h - crop) // 2
    zoomed = ndimage.zoom(
        image[:, top : top + crop, top : top + crop], (1, factor, factor), order=1
    )
    trim = (zoomed.shape[1] - h) // 2
    return zoomed[:, trim : trim + h, trim : trim + h]


@pytest.mark.parametrize("severity", [1, 5])
def test_zoom_blur_matches_scipy_zoom(severity: int) -> None:
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    ends = (1.06, 1.11, 1.16, 1.21, 1.26)
    expected = []
    for image in x.numpy():
        factors = np.arange(1, ends[severity - 1], 0.01)
        expected.append(
            (image + sum(_scipy_clipped_zoom(image, z) for z in factors)) / (len(factors) + 1)
        )
    _close(corrupt(x, "zoom_blur", severity), torch.from_numpy(np.stack(expected)).clamp(0, 1))


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("channels,size", [(3, (32, 32)), (1, (8, 8)), (3, (24, 40))])
def test_pixelate_is_bit_exact_with_pil_box(
    severity: int, channels: int, size: tuple[int, int]
) -> None:
    x = structured_images(4, channels, size, seed=5)
    factor = (0.95, 0.9, 0.85, 0.75, 0.65)[severity - 1]
    ours = corrupt(x, "pixelate", severity)
    h, w = size
    for i in range(4):
        array = x[i].permute(1, 2, 0).numpy()
        image = Image.fromarray(array if channels == 3 else array[:, :, 0])
        small = image.resize((int(w * factor), int(h * factor)), Image.BOX).resize(
            (w, h), Image.BOX
        )
        reference = np.array(small).reshape(h, w, channels)  # PIL rounds to 8 bits after each pass
        assert torch.equal(ours[i], torch.from_numpy(reference).permute(2, 0, 1))


def test_jpeg_matches_pil() -> None:
    x = structured_images(3, seed=6)
    ours = corrupt(x, "jpeg_compression", 5)
    for i in range(3):
        buffer = io.BytesIO()
        Image.fromarray(x[i].permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=40)
        reference = torch.from_numpy(np.array(Image.open(buffer))).permute(2, 0, 1)
        assert (ours[i].int() - reference.int()).abs().max() <= 1


def test_glass_shuffle_equals_the_sequential_reference_loop() -> None:
    x = torch.rand(3, 3, 12, 12)
    context = CorruptionContext(
        RandomSource(torch.Generator().manual_seed(4), torch.device("cpu")), 1.0, 1
    )
    ours = glass_shuffle(x, 1, context)
    offsets = torch.randint(-1, 1, (3, 10, 10, 2), generator=torch.Generator().manual_seed(4))
    expected = x.clone().numpy().transpose(0, 2, 3, 1)  # the reference works on H×W×C arrays
    for n in range(3):
        image = expected[n]
        for i, h in enumerate(range(11, 1, -1)):
            for j, w in enumerate(range(11, 1, -1)):
                dx, dy = offsets[n, i, j].tolist()
                image[h, w], image[h + dy, w + dx] = (
                    image[h + dy, w + dx],
                    image[h, w],
                )  # numpy views: a copy
    torch.testing.assert_close(ours, torch.from_numpy(expected.transpose(0, 3, 1, 2)))


def test_motion_blur_taps_and_direction() -> None:
    taps = motion_taps(6, 2.0)
    assert len(taps) == 13 and taps[0] == taps.max() and float(taps.sum()) == pytest.approx(1.0)
    impulse = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    impulse[0, 0, 16, 16] = 1
    along_x = motion_blur_images(impulse, 6, 2.0, torch.tensor([0.0]))[0, 0]
    # angle 0: tap i reads the pixel i columns to the right, so the impulse spreads to the left
    torch.testing.assert_close(along_x[16, 4:17].flip(0), taps)
    assert along_x.sum().item() == pytest.approx(1.0)
    along_y = motion_blur_images(impulse, 6, 2.0, torch.tensor([90.0]))[0, 0]
    torch.testing.assert_close(along_y[4:17, 16].flip(0), taps)


def test_hsv_round_trip() -> None:
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(ops.hsv_to_rgb(ops.rgb_to_hsv(x)), x)


def test_border_modes() -> None:
    index = lambda mode: ops.border_indices(3, 2, 2, mode, torch.device("cpu")).tolist()  # noqa: E731
    assert index("nearest") == [0, 0, 0, 1, 2, 2, 2]
    assert index("reflect") == [1, 0, 0, 1, 2, 2, 1]
    assert index("reflect101") == [2, 1, 0, 1, 2, 1, 0]
    assert index("wrap") == [1, 2, 0, 1, 2, 0, 1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list_corruptions())
def test_cuda_matches_cpu(name: str, images: torch.Tensor) -> None:
    cpu = corrupt(images, name, 3, seed=5)
    cuda = corrupt(images.cuda(), name, 3, seed=5)
    assert cuda.device.type == "cuda"
    assert (cuda.cpu().float() - cpu.float()).abs().gt(1).float().mean() < 0.01


@pytest.mark.parametrize("channels,size", [(3, (32, 32)), (1, (8, 8)), (3, (24, 40))])
def test_jpeg_batch_codec_is_byte_identical_to_pil(channels: int, size: tuple[int, int]) -> None:
    from robustprune.data.shifts.digital import _jpeg_pil

    x = structured_images(12, channels=channels, size=size, seed=9)
    for severity, quality in enumerate((80, 65, 58, 50, 40), start=1):
        assert torch.equal(corrupt(x, "jpeg_compression", severity), _jpeg_pil(x, quality))


def test_poisson_levels_matches_the_poisson_distribution() -> None:
    source = RandomSource(torch.Generator().manual_seed(3), torch.device("cpu"))
    rates = torch.tensor([0.0, 0.5, 3.0, 40.0, 500.0])
    levels = torch.arange(5).repeat_interleave(40_000)
    draws = source.poisson_levels(levels, rates).reshape(5, -1)
    assert torch.equal(draws, draws.round()) and draws[0].eq(0).all()
    for row, rate in zip(draws[1:], rates[1:].tolist(), strict=True):
        assert row.mean().item() == pytest.approx(rate, rel=0.02, abs=0.01)
        assert row.var().item() == pytest.approx(rate, rel=0.05)
    # P(X = k) at rate 3 against the closed form
    counts = torch.bincount(draws[2].long(), minlength=8)[:8].double() / draws.shape[1]
    k = torch.arange(8, dtype=torch.float64)
    pmf = torch.exp(k * math.log(3.0) - 3.0 - torch.lgamma(k + 1))
    assert (counts - pmf).abs().max().item() < 0.01


@pytest.mark.parametrize("channels,radius,sigma", [(3, 6, 1.0), (1, 14, 12.0)])
def test_motion_blur_strategies_equal_the_per_image_taps(
    channels: int, radius: int, sigma: float
) -> None:
    from robustprune.data.shifts.blur import _motion_by_groups, _motion_by_windows, motion_offsets

    x = torch.rand(40, channels, 20, 24, generator=torch.Generator().manual_seed(2))
    angles = torch.rand(40, generator=torch.Generator().manual_seed(3)) * 90 - 45
    weights = motion_taps(radius, sigma).tolist()
    dy, dx = motion_offsets(len(weights), angles)
    expected = torch.zeros_like(x)
    for n in range(40):  # the per-image loop, indices clamped at the border
        for i, weight in enumerate(weights):
            rows = (torch.arange(20) + dy[n, i]).clamp(0, 19)
            cols = (torch.arange(24) + dx[n, i]).clamp(0, 23)
            expected[n] += weight * x[n][:, rows][:, :, cols]
    patterns, group = torch.unique(torch.cat((dy, dx), 1), dim=0, return_inverse=True)
    _close(_motion_by_groups(x, weights, dy, dx, patterns, group), expected)
    _close(_motion_by_windows(x, weights, dy, dx), expected)
    _close(motion_blur_images(x, radius, sigma, angles), expected)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_motion_blur_rounds_to_8_bits_like_imagemagick(severity: int) -> None:
    x = structured_images(16, seed=8)
    radius, sigma = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))[severity - 1]
    angles = torch.rand(16, generator=torch.Generator().manual_seed(3)) * 90 - 45  # as drawn
    blurred = motion_blur_images(x.double() / 255, radius, sigma, angles.double()) * 255
    ours = corrupt(x, "motion_blur", severity, seed=3).double()
    # ImageMagick's PNG writer rounds half up; truncation would be 0.5 levels darker on average
    expected = torch.floor(blurred + 0.5)
    assert (ours - expected).abs().max() <= 1 and (ours != expected).float().mean() < 1e-3
    assert abs(float((ours - blurred).mean())) < 0.02
    floats = corrupt(x.float() / 255, "motion_blur", severity, seed=3)
    assert torch.equal((floats * 255).round(), ours.float())  # float output is on the 8-bit grid


@pytest.mark.parametrize("name", list_corruptions())
def test_float_input_is_not_modified(name: str, images: torch.Tensor) -> None:
    x = images[:4].float() / 255
    before = x.clone()
    for severity in range(1, 6):
        corrupt(x, name, severity, seed=severity)
    assert torch.equal(x, before)
