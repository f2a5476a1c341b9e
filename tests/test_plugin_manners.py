"""pytest manners: markers registered once, ``--co`` without torch, ``--version``, listings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robustprune.cli import main

pytest_plugins = ["pytester"]


def test_benchmark_markers_are_registered_once(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers", "-p", "no:cacheprovider")
    lines = result.stdout.lines
    for marker in ("smoke", "paper", "gpu"):
        assert sum(line.startswith(f"@pytest.mark.{marker}:") for line in lines) == 1, marker


def test_collect_only_with_the_plugin_imports_no_torch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    run = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "pytest",
            "--co",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "robustprune.plugin" in run.stderr  # the plugin was loaded ...
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}
    assert "torch" not in imported  # ... and torch was not


def imported_modules(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """Every module ``python -X importtime -m pytest ...`` imported (the run must pass)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pytest", *command],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}


def test_listing_the_benchmark_cases_imports_no_torch(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    for args, cwd in [
        (["benchmarks/"], repo),
        (["--pyargs", "robustprune.benchmarks"], tmp_path),
        (["benchmarks/", "-m", "smoke", "--rp-seeds", "1"], repo),
    ]:
        # -s: pytest's capture would swallow what importtime writes while conftests load
        imported = imported_modules([*args, "--co", "-q", "-s", "-p", "no:cacheprovider"], cwd)
        assert "robustprune.plugin.cases" in imported, args  # the cases were listed ...
        assert "torch" not in imported, args  # ... without torch


def test_a_bad_method_is_still_a_usage_error_when_listing(tmp_path: Path) -> None:
    suite = tmp_path / "bad.toml"
    suite.write_text(
        (Path(__file__).resolve().parent.parent / "robustprune/suites/digits.toml")
        .read_text()
        .replace("methods = []", 'methods = ["WT", "Magic"]', 1)
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "robustprune.benchmarks", "--co",
         "--rp-suite", str(suite), "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "methods ['Magic'] are not registered pruners" in run.stderr


def test_with_a_pruner_hook_listing_loads_the_registry_and_checks_everything(
    pytester: pytest.Pytester,
) -> None:
    """A conftest pruner hook: the case list needs the registry, and the suite is checked."""
    pytester.makeconftest("def pytest_robustprune_pruners(registry):\n    pass\n")
    suite = (Path(__file__).resolve().parent.parent / "robustprune/suites/digits.toml").read_text()
    (pytester.path / "typo.toml").write_text(suite.replace('"wrn16_2"]', '"wrn16_3"]', 1))
    result = pytester.runpytest_subprocess(
        "--pyargs", "robustprune.benchmarks", "--co", "--rp-suite", "typo.toml",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown architecture 'wrn16_3'*"])


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"robustprune {version('robustprune')}"


def test_list_suites_and_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "suites"]) == 0
    suites = capsys.readouterr().out.split()
    assert "digits" in suites and suites == sorted(suites)
    assert main(["list", "recipes", "--include", "digits*"]) == 0
    assert capsys.readouterr().out.split() == ["digits", "digits_retrain"]


def test_unknown_listing_names_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "nope"]) == 2
    error = capsys.readouterr().err
    assert "'nope'" in error and "recipes" in error and "suites" in error


def test_pyproject_does_not_register_the_plugin_markers() -> None:
    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"smoke:' not in text and '"paper:' not in text and '"gpu:' not in text
