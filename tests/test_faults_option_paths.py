"""Options that name files or directories are checked before anything runs: ``--rp-leaderboard``
never overwrites the baseline ``--rp-compare`` reads, is never a file and never lies inside
``--rp-report``; ``--rp-data`` is never a file."""

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


def test_data_root_naming_a_file_is_a_startup_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    from test_plugin_extensions import copy_benchmarks

    copy_benchmarks(pytester)
    data = tmp_path / "data.tar"
    data.write_text("not a directory")
    result = pytester.runpytest_subprocess(
        "benchmarks/", f"--rp-data={data}", "--rp-cache", str(tmp_path / "cache"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--rp-data {data} is a file*"])
