"""Suite files: parsing, the grid, validation errors that name the file, field and valid names."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustprune.suite import SuiteError, list_suites, load_suite, parse_seeds, validate_suite

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
shifts = ["noise:uniform:0.3"]
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
    assert {c.id for c in cases if c.smoke} == {
        f"digits-resnet20-{method}" for method in ("WT", "SiPP", "FT", "PFP")
    }


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
    key = extra.split(" ", 1)[0]
    text = "".join(line for line in MINIMAL.splitlines(True) if not line.startswith(key + " "))
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
        ("seeds = 0\n", "'seeds': the seed count must be in 1..1000, got 0"),
        ("seeds = 100000000000\n", "'seeds': the seed count must be in 1..1000"),
        ("seeds = [3, 3]\n", r"'seeds': seeds \[3\] are listed more than once"),
        ("seeds = [-1]\n", r"'seeds': seeds must be integers in 0..2147483647, got \[-1\]"),
        ('mode = "sometimes"\n', "'mode' is 'sometimes'; valid"),
        ("[grid]\nratios = [0.5, 0.3]\n", "grid must be strictly increasing"),
        ("delta = 'big'\n", "'delta' must be a number, got 'big'"),
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


def test_with_seeds_takes_explicit_held_out_seeds() -> None:
    assert load_suite("digits").with_seeds((100, 101)).seeds == (100, 101)


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("2", (0, 1)), ("100-103", (100, 101, 102, 103)), ("7,3", (7, 3)), (" 5 - 6 ", (5, 6))],
)
def test_parse_seeds_reads_count_range_and_list(text: str, seeds: tuple) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "the seed count must be in 1..1000"),
        ("100000000000", "the seed count must be in 1..1000"),
        ("5-3", "a range A-B needs A <= B"),
        ("1,1", r"seeds \[1\] are listed more than once"),
        ("two", "expected a count N"),
    ],
)
def test_parse_seeds_names_the_bad_value(text: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_seeds(text)


def test_a_case_id_gives_back_its_group(tmp_path: Path) -> None:
    from robustprune.suite import case_group_of

    [case] = load_suite(write(tmp_path, MINIMAL + 'methods = ["WT"]\n')).cases(METHODS)
    assert (case.id, case.group) == ("mine-resnet20-WT", "mine-resnet20")
    assert case_group_of(case.id) == case.group
    assert case_group_of("resnet20") is None


def test_method_thresholds_override_the_suite_ones(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "[thresholds]\nnominal_pp = 0.1\nshifted_pp = 0.05\n[thresholds.methods.WT]\nnominal_pp = 0.4\n"
    )
    suite = load_suite(write(tmp_path, text))
    assert suite.thresholds_for("WT").nominal_pp == 0.4
    assert suite.thresholds_for("WT").shifted_pp_default == 0.05
    assert suite.thresholds_for("FT").nominal_pp == 0.1


def test_a_record_gets_each_shift_its_own_threshold_or_the_default(tmp_path: Path) -> None:
    from robustprune.suite import Thresholds
    from robustprune.thresholds import effective_thresholds

    shifts = 'shifts = ["noise:uniform:0.3", "noise:uniform:0.5"]\n'
    text = MINIMAL.replace('shifts = ["noise:uniform:0.3"]\n', shifts) + (
        '[thresholds]\nnominal_pp = 0.1\nshifted_pp = { "noise:uniform:0.5" = 0.2 }\n'
    )
    thresholds = load_suite(write(tmp_path, text)).thresholds_for("WT")
    assert Thresholds.from_dict(thresholds.to_dict()) == thresholds
    record = {
        "thresholds": thresholds.to_dict(),
        "distributions": ["nominal", "noise:uniform:0.3", "noise:uniform:0.5"],
    }
    assert effective_thresholds(record) == {
        "nominal_pp": 0.1,
        "shifted_pp": {"noise:uniform:0.3": 0.0, "noise:uniform:0.5": 0.2},
        "excess_error_slope_max": None,
    }


def test_unknown_threshold_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        SuiteError, match=r"unknown key 'nominal' in \[thresholds\] \(did you mean 'nominal_pp'\?\)"
    ):
        load_suite(write(tmp_path, MINIMAL + "[thresholds]\nnominal = 0.1\n"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            "method = ['WT']\n",
            r"unknown key 'method' in the top level \(did you mean 'methods'\?\)",
        ),
        ("seed = 2\n", r"unknown key 'seed' in the top level \(did you mean 'seeds'\?\)"),
        ("shfits = []\n", r"unknown key 'shfits' in the top level \(did you mean 'shifts'\?\)"),
        ("ratio = [0.5]\n", r"unknown key 'ratio' in the top level; valid keys: \['archs'"),
        ("[smok]\narchs = []\n", r"unknown key 'smok' in the top level \(did you mean 'smoke'\?\)"),
        ("[grid]\nfrist = 0.3\n", r"unknown key 'frist' in \[grid\] \(did you mean 'first'\?\)"),
        ("[grid]\nratio = [0.5]\n", r"unknown key 'ratio' in \[grid\] \(did you mean 'ratios'\?\)"),
        ("[smoke]\nmethod = ['WT']\n", r"unknown key 'method' in \[smoke\] \(did you mean"),
        (
            "[thresholds.methods.WT]\nnominal = 0.2\n",
            r"unknown key 'nominal' in \[thresholds.methods.WT\] \(did you mean 'nominal_pp'",
        ),
        (
            "[thresholds]\nshifted_pp = {'noise:uniform:0.2' = 0.1}\n",
            r"unknown key 'noise:uniform:0.2' in \[thresholds.shifted_pp\] "
            r"\(did you mean 'noise:uniform:0.3'\?\)",
        ),
        (
            "[train_recipe]\nresnet2 = 'digits'\n",
            r"unknown key 'resnet2' in \[train_recipe\] \(did you mean 'resnet20'",
        ),
    ],
)
def test_unknown_keys_in_every_table_are_rejected_with_a_did_you_mean(
    tmp_path: Path, extra: str, message: str
) -> None:
    text = (
        MINIMAL.replace('train_recipe = "digits"\n', "") if "[train_recipe]" in extra else MINIMAL
    )
    with pytest.raises(SuiteError, match=message) as error:
        load_suite(write(tmp_path, text + extra))
    assert str(error.value).startswith(str(tmp_path / "mine.toml"))
    assert "valid keys: [" in str(error.value)


@pytest.mark.parametrize(
    "extra, message",
    [
        ("name = ''\n", "'name' must be a non-empty string"),
        ("delta = -0.01\n", r"'delta' must be in \[0.0, 1.0\), got -0.01"),
        ("delta = nan\n", r"'delta' must be in \[0.0, 1.0\), got nan"),
        (
            "train_mix = 'mix2'\n",
            r"unknown train_mix 'mix2' \(did you mean 'mix1'\?\); valid: 'mix1'",
        ),
        ("similarity = 1\n", "'similarity' must be true or false, got 1"),
        ("similarity_draws = 0\n", "'similarity_draws' must be >= 1, got 0"),
        ("features_fraction = 0\n", r"'features_fraction' must be in \(0, 1\]"),
        ("methods = 'WT'\n", "'methods' must be list, got 'WT'"),
        ("methods = ['WT', 'WT']\n", r"'methods' lists \['WT'\] more than once"),
        ("seeds = true\n", "'seeds': expected a count or a list of seeds, got True"),
        ("seeds = 1.5\n", "'seeds': expected a count or a list of seeds, got 1.5"),
        ("[grid]\nratios = [0.3, 0.3, 0.5]\n", "strictly increasing .* no repeats"),
        ("[grid]\nratios = [0.3, 'x']\n", r"'ratios' in \[grid\] must be a number, got 'x'"),
        ("[grid]\ncount = '6'\n", r"'count' in \[grid\] must be an integer, got '6'"),
        ("[grid]\nfirst = 0.9\nlast = 0.5\n", r"'last' in \[grid\] must be greater than 'first'"),
        ("[grid]\nratios = [0.5]\ncount = 3\n", r"cannot be combined with \['count'\]"),
        ("grid = 3\n", r"\[grid\] must be a table, got 3"),
        ("[thresholds]\nnominal_pp = '0.3'\n", r"'nominal_pp' in \[thresholds\] must be a number"),
        (
            "[thresholds]\nnominal_pp = 30\n",
            r"'nominal_pp' in \[thresholds\] must be in \[0.0, 1.0\]",
        ),
        ("[smoke]\narchs = 'resnet20'\n", r"'archs' in \[smoke\] must be list"),
        ("[smoke]\narchs = ['vgg16']\n", r"'archs' in \[smoke\] names \['vgg16'\], which are not"),
        ("retrain_recipe = 3\n", "'retrain_recipe' must be a recipe name or a table"),
    ],
)
def test_wrong_values_are_refused_naming_key_and_value(
    tmp_path: Path, extra: str, message: str
) -> None:
    key = extra.split(" ", 1)[0]
    text = "".join(line for line in MINIMAL.splitlines(True) if not line.startswith(key + " "))
    with pytest.raises(SuiteError, match=message):
        load_suite(write(tmp_path, text + extra))


def test_a_suite_without_shifts_is_refused_up_front(tmp_path: Path) -> None:
    text = MINIMAL.replace('shifts = ["noise:uniform:0.3"]\n', "")
    with pytest.raises(SuiteError, match="'shifts' must list at least one shift"):
        load_suite(write(tmp_path, text))
    with pytest.raises(SuiteError, match="'shifts' must list at least one shift"):
        load_suite(write(tmp_path, text + "shifts = []\n"))


def test_files_that_are_not_suites_are_named(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes(MINIMAL.encode() + b'description = "caf\xe9"\n')
    with pytest.raises(SuiteError, match="latin.toml: not UTF-8 text"):
        load_suite(latin)
    (tmp_path / "folder.toml").mkdir()
    for folder in (tmp_path / "folder.toml", tmp_path):
        with pytest.raises(SuiteError, match="is a directory; pass a suite .toml file"):
            load_suite(folder)


def test_smoke_methods_and_method_thresholds_must_be_methods_the_suite_runs(
    tmp_path: Path,
) -> None:
    suite = load_suite(write(tmp_path, MINIMAL + "[smoke]\nmethods = ['Wt']\n"))
    with pytest.raises(SuiteError, match=r"\[smoke\] methods names \['Wt'\] \(did you mean 'WT'"):
        validate_suite(suite, METHODS)
    suite = load_suite(write(tmp_path, MINIMAL + "[thresholds.methods.SIPP]\nnominal_pp = 0.1\n"))
    with pytest.raises(SuiteError, match=r"\[thresholds.methods\] names \['SIPP'\]"):
        validate_suite(suite, METHODS)
    with pytest.raises(SuiteError, match=r"unknown key 'SIPP' in \[thresholds.methods\]"):
        load_suite(
            write(
                tmp_path,
                MINIMAL + "methods = ['SiPP']\n[thresholds.methods.SIPP]\nnominal_pp = 0.1\n",
            )
        )


def test_the_zoo_suite_keeps_the_digits_settings_frozen() -> None:
    """digits_zoo reports its methods under the settings chosen for the digits suite before any
    of them ran: delta, grid, shifts, recipes and mode must stay the digits suite's."""
    zoo, digits = load_suite("digits_zoo"), load_suite("digits")
    for field in ("dataset", "delta", "grid", "shifts", "mode"):
        assert getattr(zoo, field) == getattr(digits, field), field
    for arch in zoo.archs:
        assert zoo.train_recipes[arch] == digits.train_recipes[arch]
        assert zoo.retrain_recipes[arch] == digits.retrain_recipes[arch]
    assert set(zoo.archs) <= set(digits.archs)
    assert not set(zoo.seeds) & set(digits.seeds)  # held-out parents
