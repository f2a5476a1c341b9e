"""Careless or hostile suite input is a clear error when the suite loads: names that become
paths, shifts spelled twice, huge seed counts, a BOM, an empty ``--rp-suite``."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustprune.suite import SuiteError, load_suite, parse_seeds, validate_suite

METHODS = ["FT", "PFP", "SiPP", "WT"]

MINIMAL = """
dataset = "digits"
archs = ["resnet20"]
train_recipe = "digits"
retrain_recipe = "digits_retrain"
shifts = ["noise:uniform:0.3"]
"""


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize(
    "name, problem",
    [
        ("../../etc/evil", "contains '/'"),
        ("/tmp/absolute", "contains '/'"),
        ("back\\\\slash", "contains '\\\\'"),
        ("two\\nlines", "contains '\\n'"),
        ("tab\\there", "contains '\\t'"),
        ("..", "starts with '.'"),
        ("x" * 5000, "is 5000 characters long; at most 100"),
        (" padded ", "whitespace"),
    ],
)
def test_suite_name_that_would_escape_or_break_a_path_is_refused_at_load(
    tmp_path: Path, name: str, problem: str
) -> None:
    path = write(tmp_path, f'name = "{name}"\n{MINIMAL}')
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    message = str(error.value)
    assert message.startswith(f"{path}: 'name' ") and problem in message, message
    assert "history" in message and len(message) < 400


def test_an_ordinary_suite_name_loads(tmp_path: Path) -> None:
    assert load_suite(write(tmp_path, f'name = "my_suite-v2.1"\n{MINIMAL}')).name == "my_suite-v2.1"


def test_shift_spellings_of_one_distribution_are_one_shift(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        '["noise:uniform:0.3"]', '["noise:uniform:0.1", "noise:uniform:0.10", "noise:uniform:1e-1"]'
    )
    suite = load_suite(write(tmp_path, text))
    with pytest.raises(SuiteError, match=r"one distribution \('noise:uniform:0.1'\)") as error:
        validate_suite(suite, METHODS)
    assert "'noise:uniform:0.10'" in str(error.value) and "'noise:uniform:1e-1'" in str(error.value)


def test_corruption_resolution_spellings_are_one_shift(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        '["noise:uniform:0.3"]', '["corruption:frost:3@32", "corruption:frost:3@032"]'
    )
    with pytest.raises(SuiteError, match="one distribution"):
        validate_suite(load_suite(write(tmp_path, text)), METHODS)


@pytest.mark.parametrize("seeds", ["100000000000", "1001"])
def test_seed_count_beyond_the_bound_is_a_clear_error(tmp_path: Path, seeds: str) -> None:
    with pytest.raises(
        SuiteError, match=rf"'seeds': the seed count must be in 1..1000, got {seeds}"
    ):
        load_suite(write(tmp_path, f"seeds = {seeds}\n{MINIMAL}"))
    with pytest.raises(SuiteError, match=rf"must be in 1..1000, got {seeds}"):
        parse_seeds(seeds)


def test_suite_file_with_a_utf8_bom_loads(tmp_path: Path) -> None:
    path = write(tmp_path, f'name = "bom"\n{MINIMAL}', encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_suite(path).name == "bom"


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_suite_name_lists_the_shipped_suites(value: str) -> None:
    with pytest.raises(SuiteError, match=r"the suite name is empty; valid suites: \[.*'digits'"):
        load_suite(value)


def test_unknown_timm_model_is_a_suite_error_before_anything_runs(tmp_path: Path) -> None:
    text = MINIMAL.replace('archs = ["resnet20"]', 'archs = ["resnet20", "timm:resnet_18"]')
    with pytest.raises(
        SuiteError, match=r"unknown timm model 'resnet_18' in architecture"
    ) as error:
        validate_suite(load_suite(write(tmp_path, text)), METHODS)
    assert "did you mean 'resnet18'" in str(error.value)
    ok = MINIMAL.replace('archs = ["resnet20"]', 'archs = ["timm:resnet18"]')
    validate_suite(load_suite(write(tmp_path, ok)), METHODS)


@pytest.mark.parametrize("resolution", ["100000", "2", "1025"])
def test_corruption_resolution_out_of_bounds_is_a_suite_error(
    tmp_path: Path, resolution: str
) -> None:
    text = MINIMAL.replace('"noise:uniform:0.3"', f'"corruption:frost:3@{resolution}"')
    with pytest.raises(SuiteError, match=rf"resolution @{resolution} is outside 4..1024 px"):
        validate_suite(load_suite(write(tmp_path, text)), METHODS)
