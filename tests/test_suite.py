"""Suite files: parsing, the grid, validation errors that name the file, field and valid names."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustprune.suite import SuiteError, list_suites, load_suite, validate_suite

METHODS = ["FT", "PFP", "SiPP", "WT"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


MINIMAL = """
dataset = "digits"
archs = ["resnet20"]
train_recipe = "digits"
retrain_recipe = "digits_retrain"
"""


def test_shipped_digits_suite_is_valid_and_has_every_method() -> None:
    suite = load_suite("digits")
    validate_suite(suite, METHODS)
    cases = suite.cases(METHODS)
    assert [c.id for c in cases][:4] == [
        "digits-resnet20-FT",
        "digits-resnet20-PFP",
        "digits-resnet20-SiPP",
        "digits-resnet20-WT",
    ]
    assert len(cases) == len(suite.archs) * len(METHODS)
    assert len(suite.seeds) >= 2
    assert {c.id for c in cases if c.smoke} == {"digits-resnet20-WT", "digits-resnet20-FT"}


@pytest.mark.parametrize("name", ["digits", "cifar10", "cifar10_mix1", "imagenet", "voc2011"])
def test_every_shipped_suite_validates(name: str) -> None:
    assert name in list_suites()
    validate_suite(load_suite(name), METHODS)


def test_geometric_grid_in_keep_ratio(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, MINIMAL + "[grid]\nfirst = 0.2\nlast = 0.97\ncount = 16\n"))
    assert len(suite.grid) == 16
    assert suite.grid[0] == pytest.approx(0.2) and suite.grid[-1] == pytest.approx(0.97)
    keeps = [1 - r for r in suite.grid]
    ratios = [b / a for a, b in zip(keeps, keeps[1:], strict=False)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-4)


def test_unknown_suite_lists_valid_ones() -> None:
    with pytest.raises(SuiteError, match="valid suites: .*digits"):
        load_suite("nope")


@pytest.mark.parametrize(
    "extra, message",
    [
        ('archs = ["resnet999"]\n', "unknown architecture 'resnet999'; valid: .*resnet20"),
        ('shifts = ["corruption:rain:3"]\n', "rain"),
        ('methods = ["MAGIC"]\n', r"\['MAGIC'\] are not registered pruners; valid: \['FT'"),
    ],
)
def test_bad_names_are_errors_naming_the_valid_ones(
    tmp_path: Path, extra: str, message: str
) -> None:
    text = MINIMAL.replace('archs = ["resnet20"]\n', "") if extra.startswith("archs") else MINIMAL
    suite = load_suite(write(tmp_path, text + extra))
    with pytest.raises(SuiteError, match=message):
        validate_suite(suite, METHODS)


def test_unknown_dataset_is_named(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, MINIMAL.replace('"digits"\n', '"mnist"\n', 1)))
    with pytest.raises(SuiteError, match="unknown dataset 'mnist'; valid: .*digits"):
        validate_suite(suite, METHODS)


@pytest.mark.parametrize(
    "extra, message",
    [
        ("seeds = 0\n", "'seeds' must be >= 1"),
        ('mode = "sometimes"\n', "'mode' is 'sometimes'; valid"),
        ("[grid]\nratios = [0.5, 0.3]\n", "grid must be increasing"),
        ("delta = 'big'\n", "'delta' must be float"),
    ],
)
def test_malformed_fields_name_the_field(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite(write(tmp_path, MINIMAL + extra))


def test_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="required key 'dataset' is missing"):
        load_suite(write(tmp_path, MINIMAL.replace('dataset = "digits"\n', "")))


def test_with_seeds_overrides_count() -> None:
    assert load_suite("digits").with_seeds(3).seeds == (0, 1, 2)


def test_method_thresholds_override_the_suite_ones(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "[thresholds]\nnominal_pp = 0.1\nshifted_pp = 0.05\n[thresholds.methods.WT]\nnominal_pp = 0.4\n"
    )
    suite = load_suite(write(tmp_path, text))
    assert suite.thresholds_for("WT").nominal_pp == 0.4
    assert suite.thresholds_for("WT").shifted_pp_default == 0.05
    assert suite.thresholds_for("FT").nominal_pp == 0.1


def test_unknown_threshold_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"unknown threshold key\(s\) \['nominal'\]"):
        load_suite(write(tmp_path, MINIMAL + "[thresholds]\nnominal = 0.1\n"))
