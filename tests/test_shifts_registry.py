"""Shift names, the corruption registry and its parameter tables (CIFAR-10-C's values)."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch

from robustprune.data.shifts import (
    corrupt,
    corruptions_for,
    get_corruption,
    get_shift,
    list_corruptions,
    list_shifts,
    noise_ball_eps,
    register_corruption,
    register_shift,
    registry,
)
from robustprune.data.shifts.blur import zoom_factors
from robustprune.data.shifts.mix import MIX1_TEST_CORRUPTIONS, MIX1_TRAIN_CORRUPTIONS

CIFAR10_C = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "shot_noise": (500, 250, 100, 75, 50),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
    "speckle_noise": (0.06, 0.10, 0.12, 0.16, 0.20),
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),
    "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
    "glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
    "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),
    "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
    "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
    "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),
    "jpeg_compression": (80, 65, 58, 50, 40),
    "elastic_transform": (
        (0, 0, 2.56),
        (1.6, 6.4, 2.24),
        (2.56, 1.92, 1.92),
        (3.2, 1.28, 1.6),
        (3.2, 0.96, 0.96),
    ),
    "snow": (
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ),
    "spatter": (
        (0.62, 0.1, 0.7, 0.7, 0.5, 0),
        (0.65, 0.1, 0.8, 0.7, 0.5, 0),
        (0.65, 0.3, 1, 0.69, 0.5, 0),
        (0.65, 0.1, 0.7, 0.69, 0.6, 1),
        (0.65, 0.1, 0.5, 0.68, 0.6, 1),
    ),
}


def test_the_nineteen_corruptions_are_registered() -> None:
    assert set(list_corruptions()) == set(CIFAR10_C) | {"zoom_blur"}
    assert len(list_corruptions()) == 19


@pytest.mark.parametrize("name", sorted(CIFAR10_C))
def test_parameters_are_cifar10_c(name: str) -> None:
    def flat(values):  # type: ignore[no-untyped-def]
        return [
            float(v) for value in values for v in (value if isinstance(value, tuple) else (value,))
        ]

    registered = get_corruption(name).parameters
    assert len(registered) == 5
    assert flat(registered) == pytest.approx(flat(CIFAR10_C[name]))


def test_zoom_blur_factor_counts() -> None:
    assert [len(zoom_factors(s)) for s in range(1, 6)] == [7, 12, 16, 21, 26]
    assert zoom_factors(5)[0] == 1.0 and zoom_factors(5)[-1] == pytest.approx(1.25)


def test_list_shifts_covers_every_form() -> None:
    names = list_shifts()
    assert len([n for n in names if n.startswith("corruption:")]) == 95
    assert "corruption:fog:3" in names and "cifar10_1" in names
    assert [n for n in names if n.startswith("noise:")] == sorted(
        f"noise:uniform:{e}"
        for e in (
            "0",
            "0.05",
            "0.1",
            "0.15",
            "0.2",
            "0.25",
            "0.3",
            "0.35",
            "0.4",
            "0.45",
            "0.5",
            "0.55",
            "0.6",
            "0.65",
            "0.7",
        )
    )
    assert list_shifts("corruption:fog:*") == [f"corruption:fog:{s}" for s in range(1, 6)]


def test_registration_flows_one_way() -> None:
    """Corruption modules import the registry; the registry imports none of them back."""
    imported = set()
    for node in ast.walk(ast.parse(inspect.getsource(registry))):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    corruption_modules = {"blur", "digital", "noise", "spatter", "weather", "dataset", "mix"}
    assert not {f"robustprune.data.shifts.{name}" for name in corruption_modules} & imported


def test_noise_ball_radii() -> None:
    eps = noise_ball_eps()
    assert len(eps) == 15 and eps[0] == 0 and eps[-1] == pytest.approx(0.7)
    assert eps[1] == pytest.approx(0.05)


def test_get_shift_resolves_names() -> None:
    shift = get_shift("corruption:fog:3")
    assert (shift.kind, shift.corruption, shift.severity, shift.name) == (
        "corruption",
        "fog",
        3,
        "corruption:fog:3",
    )
    noise = get_shift("noise:uniform:0.050")
    assert (noise.kind, noise.eps, noise.name) == ("noise", 0.05, "noise:uniform:0.05")
    assert get_shift("cifar10_1").kind == "dataset"


@pytest.mark.parametrize(
    "name",
    [
        "corruption:fog:6",
        "corruption:fog:0",
        "corruption:fog",
        "corruption:mist:3",
        "corruption:fog:2.5",
        "noise:uniform:-0.1",
        "noise:uniform:nan",
        "noise:gaussian:0.1",
        "cifar10_2",
        "",
    ],
)
def test_unknown_shift_lists_valid_forms(name: str) -> None:
    with pytest.raises(ValueError) as error:
        get_shift(name)
    message = str(error.value)
    assert repr(name) in message
    assert "corruption:<name>:<severity 1-5>" in message and "noise:uniform:<eps" in message
    assert "gaussian_noise" in message and "cifar10_1" in message


def test_unknown_corruption_and_severity_in_corrupt() -> None:
    images = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="unknown corruption 'mist'.*zoom_blur"):
        corrupt(images, "mist", 1)
    with pytest.raises(ValueError, match="'fog'.*1..5.*6"):
        corrupt(images, "fog", 6)


def test_saturate_on_one_channel_names_the_problem() -> None:
    with pytest.raises(ValueError, match="'saturate'.*1-channel.*3 channel"):
        corrupt(torch.rand(2, 1, 8, 8), "saturate", 3)


def test_corruptions_for() -> None:
    assert corruptions_for(3, (32, 32)) == list_corruptions()
    gray = corruptions_for(1, (8, 8))
    assert "saturate" not in gray and len(gray) == 18
    assert corruptions_for(3, (2, 2)) == []


def test_register_corruption_adds_one_function_and_rejects_duplicates() -> None:
    @register_corruption("test_invert", "digital", (0.2, 0.4, 0.6, 0.8, 1.0))
    def invert(x, amount, context):  # type: ignore[no-untyped-def]
        return x * (1 - amount) + (1 - x) * amount

    try:
        assert "corruption:test_invert:5" in list_shifts()
        out = corrupt(torch.zeros(1, 1, 8, 8), "test_invert", 5)
        assert torch.equal(out, torch.ones(1, 1, 8, 8))
        with pytest.raises(ValueError, match="already registered"):
            register_corruption("test_invert", "digital", (1, 2, 3, 4, 5))(invert)
        with pytest.raises(ValueError, match="5 severity parameters"):
            register_corruption("test_short", "digital", (1, 2))
    finally:
        registry.SHIFTS.unregister("test_invert")


def test_register_shift_rejects_duplicates() -> None:
    with pytest.raises(ValueError, match="cifar10_1"):
        register_shift("cifar10_1")(lambda data, root: None)


def test_mix1_splits_the_nineteen() -> None:
    assert set(MIX1_TRAIN_CORRUPTIONS) == {
        "contrast",
        "elastic_transform",
        "gaussian_blur",
        "impulse_noise",
        "motion_blur",
        "pixelate",
        "shot_noise",
        "snow",
        "zoom_blur",
    }
    assert len(MIX1_TEST_CORRUPTIONS) == 10
    assert set(MIX1_TRAIN_CORRUPTIONS) | set(MIX1_TEST_CORRUPTIONS) == set(list_corruptions())
