"""``--rp-leaderboard`` is checked before anything runs: it never overwrites the baseline that
``--rp-compare`` reads, is never a file, and never lies inside ``--rp-report``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

BASELINE = Path(__file__).parent / "fixtures" / "synthetic_leaderboard.json"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    return pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")


def test_leaderboard_into_the_baselines_directory_is_refused_and_the_baseline_kept(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    shutil.copyfile(BASELINE, tmp_path / "leaderboard.json")
    before = (tmp_path / "leaderboard.json").read_bytes()
    result = run(
        pytester, f"--rp-leaderboard={tmp_path}", f"--rp-compare={tmp_path / 'leaderboard.json'}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*--rp-leaderboard {tmp_path} would overwrite the baseline*e.g. --rp-leaderboard*new*"]
    )
    assert (tmp_path / "leaderboard.json").read_bytes() == before
    json.loads(before)  # still the baseline


def test_leaderboard_naming_a_file_is_a_startup_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    target = tmp_path / "board.json"
    target.write_text("mine")
    result = run(pytester, f"--rp-leaderboard={target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--rp-leaderboard {target} is a file*directory*"])
    assert target.read_text() == "mine"
    assert "passed" not in result.stdout.str()


def test_leaderboard_inside_the_report_directory_is_a_startup_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    result = run(pytester, f"--rp-report={report}", f"--rp-leaderboard={report / 'board'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-leaderboard*is inside --rp-report*"])


def test_leaderboard_under_a_file_or_read_only_directory_is_a_startup_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    result = run(pytester, f"--rp-leaderboard={blocker / 'out'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*cannot be created or written: {blocker} is a file*"])
    fresh = tmp_path / "new" / "out"
    assert run(pytester, f"--rp-leaderboard={fresh}").ret == 0
    assert not fresh.exists()  # nothing recorded, nothing created
