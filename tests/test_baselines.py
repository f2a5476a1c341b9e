"""Shipped baselines: one file per shipped suite, found by name from any directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from robustprune.baselines import (
    BASELINES_DIR,
    BaselineError,
    list_baselines,
    resolve_baseline,
    shipped_baseline,
)
from robustprune.cli import main
from robustprune.leaderboard import load_leaderboard, suite_differences
from robustprune.plugin.options import resolve_compare
from robustprune.pruning import default_registry
from robustprune.suite import list_suites, load_suite

pytest_plugins = ["pytester"]


def test_the_digits_baseline_ships_inside_the_package() -> None:
    path = shipped_baseline("digits")
    assert path == BASELINES_DIR / "digits.json" and path.is_file()
    assert Path(__import__("robustprune").__file__).parent in path.parents
    assert {r["suite"] for r in load_leaderboard(path)["records"]} == {"digits"}


def test_every_shipped_baseline_belongs_to_a_shipped_suite() -> None:
    assert {"digits", "digits_zoo"} <= set(list_baselines())
    assert set(list_baselines()) <= set(list_suites())


@pytest.mark.parametrize("name", list_baselines())
def test_every_shipped_baseline_matches_its_suite_and_covers_every_case(name: str) -> None:
    """A suite whose settings move on without its baseline would leave a gate that refuses to
    compare; one whose methods or networks grow would leave cases the gate never checks."""
    suite = load_suite(name)
    baseline = load_leaderboard(shipped_baseline(name))
    assert suite_differences(baseline, suite, suite.seeds) == []
    cases = {(record["arch"], record["method"]) for record in baseline["records"]}
    assert cases == {(case.arch, case.method) for case in suite.cases(default_registry().names())}


def test_an_unknown_baseline_name_is_an_error_listing_the_shipped_ones() -> None:
    with pytest.raises(
        BaselineError, match=r"no shipped baseline 'digitz'; shipped baselines: .*digits"
    ):
        shipped_baseline("digitz")


def test_a_name_resolves_to_the_shipped_baseline_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_baseline("digits") == shipped_baseline("digits")
    with pytest.raises(
        BaselineError, match=r"'digitz' is neither a file in .* shipped baselines: .*digits"
    ):
        resolve_baseline("digitz")


def test_an_existing_file_or_a_path_like_value_stays_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits").write_text("{}")  # a user's own file named like the baseline wins
    assert resolve_baseline("digits") == Path("digits")
    assert resolve_baseline("old.json") == Path("old.json")  # missing: the loader names it
    assert resolve_baseline("runs/digits") == Path("runs/digits")


def test_rp_compare_takes_a_shipped_baselines_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    baseline, note = resolve_compare("digits", "digits", tmp_path / "history", gated=True)
    assert (baseline, note) == (shipped_baseline("digits"), None)


def test_rp_compare_with_an_unknown_name_is_a_usage_error_listing_the_shipped_ones(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--rp-compare", "digitz", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--rp-compare: 'digitz' is neither a file*shipped baselines: *digits*"]
    )


def test_cli_compare_takes_a_shipped_baselines_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(shipped_baseline("digits"), tmp_path / "current.json")
    assert main(["compare", "digits", "current.json", "--fail", "prune_potential:5%"]) == 0
    assert "0 regression(s)" in capsys.readouterr().out
    assert main(["compare", "digitz", "current.json"]) == 2
    assert "shipped baselines: digits" in capsys.readouterr().err
    assert main(["list", "baselines"]) == 0
    assert capsys.readouterr().out.split() == list_baselines()
