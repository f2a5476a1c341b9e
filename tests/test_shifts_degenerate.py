"""Degenerate corruption settings: identity at a size, duplicate severities, and the shipped suites."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from robustprune.data import DatasetSplits, ImageSet
from robustprune.data.shifts import (
    DegenerateShiftError,
    check_dataset_shifts,
    check_shifts,
    corrupt,
    distinct_settings,
    shifted_test_set,
)
from robustprune.data.shifts.degenerate import SIZE_INDEPENDENT, probe_images, survey_corruption

SUITES = sorted((Path(__file__).parents[1] / "benchmarks" / "suites").glob("*.toml"))


def test_identity_settings_at_8x8_are_found() -> None:
    identity = {
        (s.corruption, s.severity)
        for name in distinct_settings(1, (8, 8))
        for s in survey_corruption(name, 1, (8, 8))
        if s.identity
    }
    expected = {("gaussian_blur", s) for s in range(1, 6)} | {
        ("defocus_blur", s) for s in range(1, 6)
    }
    assert identity == expected | {("motion_blur", 1), ("zoom_blur", 1)}
    x = probe_images(1, (8, 8))
    for name, severity in identity:  # really no change of one 8-bit level
        assert (corrupt(x, name, severity) - x).abs().max() < 1 / 255


def test_distinct_severities_at_8x8() -> None:
    distinct = distinct_settings(1, (8, 8))
    assert distinct["gaussian_blur"] == [] and distinct["defocus_blur"] == []
    assert distinct["motion_blur"] == [2, 3, 5]  # 1 is the identity, 4 equals 3
    assert distinct["zoom_blur"] == [2, 3, 4, 5]
    assert distinct["pixelate"] == [1, 3, 5]  # int(8·factor) = 7, 7, 6, 6, 5 px
    assert distinct["glass_blur"] == [1, 4]  # 1 = 2 = 3 and 4 = 5
    assert distinct["gaussian_noise"] == [1, 2, 3, 4, 5]
    assert "saturate" not in distinct  # needs RGB


def test_at_32_px_every_blur_changes_8x8_images() -> None:
    distinct = distinct_settings(1, (8, 8), resolution=32)
    for name in ("gaussian_blur", "defocus_blur", "zoom_blur", "glass_blur"):
        assert distinct[name] == [1, 2, 3, 4, 5], name
    assert distinct["motion_blur"] == [1, 2, 3, 5]  # radius 6 vs 8 at σ 2: equal to 1e-8
    # pixelate:4 boxes 32 px to 24 px: each 4-px block becomes a 3-px block and back, exactly
    assert distinct["pixelate"] == [1, 2, 3]
    with pytest.raises(DegenerateShiftError, match="corruption:pixelate:4@32 leaves 8×8"):
        check_shifts(["corruption:pixelate:4@32"], 1, (8, 8))


@pytest.mark.parametrize("size", [(8, 8), (32, 32)])
def test_size_independent_corruptions_always_change_the_images(size: tuple[int, int]) -> None:
    channels = 3 if size == (32, 32) else 1
    for name in SIZE_INDEPENDENT:
        if name == "saturate" and channels == 1:
            continue
        for setting in survey_corruption(name, channels, size):
            assert not setting.identity and setting.same_as is None, setting


def test_identity_is_refused_with_name_severity_size_and_reason() -> None:
    with pytest.raises(DegenerateShiftError) as error:
        check_shifts(
            ["corruption:gaussian_noise:3", "corruption:defocus_blur:3", "noise:uniform:0.3"],
            1,
            (8, 8),
        )
    message = str(error.value)
    assert "corruption:defocus_blur:3 leaves 8×8 1-channel images unchanged" in message
    assert "one 8-bit level" in message and "scaled by 0.25" in message
    assert "no severity changes them here" in message and "'@32'" in message
    assert "gaussian_noise" not in message
    with pytest.raises(
        DegenerateShiftError,
        match="corruption:motion_blur:1 .*severities that change them here: 2, 3, 5",
    ):
        check_shifts(["corruption:motion_blur:1"], 1, (8, 8))


def test_duplicate_settings_are_refused() -> None:
    with pytest.raises(
        DegenerateShiftError,
        match="corruption:pixelate:2 gives the same 8×8 images as corruption:pixelate:1",
    ):
        check_shifts(["corruption:pixelate:1", "corruption:pixelate:2"], 1, (8, 8))
    check_shifts(
        ["corruption:pixelate:1", "corruption:pixelate:3", "corruption:pixelate:5"], 1, (8, 8)
    )
    check_shifts(["corruption:pixelate:1", "corruption:pixelate:2@32"], 1, (8, 8))


def test_resolution_makes_an_identity_setting_valid() -> None:
    check_shifts(["corruption:gaussian_blur:3@32", "corruption:defocus_blur:1@32"], 1, (8, 8))


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_every_shipped_suite_passes(path: Path) -> None:
    suite = tomllib.loads(path.read_text())
    check_dataset_shifts(suite.get("shifts", []), suite["dataset"])


def test_generating_an_identity_set_is_refused() -> None:
    images = probe_images(1, (8, 8))
    data = ImageSet(images, torch.arange(len(images)) % 10)
    splits = DatasetSplits("toy", data, data, data, 10, (0.5,), (0.25,))
    with pytest.raises(DegenerateShiftError, match="corruption:gaussian_blur:2 leaves 8×8"):
        shifted_test_set(splits, "corruption:gaussian_blur:2")
    shifted, _ = shifted_test_set(splits, "corruption:gaussian_blur:2@32")
    assert not torch.equal(shifted.images, images)


def test_suite_validation_refuses_an_identity_corruption(tmp_path: Path) -> None:
    from robustprune.suite import SuiteError, load_suite, validate_suite

    path = tmp_path / "mine.toml"
    path.write_text(
        'dataset = "digits"\narchs = ["resnet20"]\ntrain_recipe = "digits"\n'
        'retrain_recipe = "digits_retrain"\n'
        'shifts = ["corruption:zoom_blur:3", "corruption:gaussian_blur:3"]\n'
    )
    with pytest.raises(SuiteError, match=r"mine.toml: corruption:gaussian_blur:3 leaves 8×8"):
        validate_suite(load_suite(path), ["WT"])
    path.write_text(path.read_text().replace("gaussian_blur:3", "gaussian_blur:3@32"))
    validate_suite(load_suite(path), ["WT"])
