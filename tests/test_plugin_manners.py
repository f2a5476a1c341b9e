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
