"""The command line under careless use: a closed pipe, a history that is a file or a path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robustprune.cli import main


def test_list_shifts_into_a_closed_pipe_prints_no_traceback() -> None:
    """``robustprune list shifts | head -1``: the reader closes before the listing is written."""
    child = subprocess.Popen(
        [sys.executable, "-m", "robustprune", "list", "shifts"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # like head after its first line, before the command has written
    error = child.stderr.read().decode()
    child.wait(timeout=60)
    assert "Traceback" not in error and "BrokenPipeError" not in error, error
    assert child.returncode in (0, 1)


def test_history_given_a_file_says_it_needs_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "leaderboard.json"
    board.write_text("{}")
    assert main(["history", "--history", str(board)]) == 2
    error = capsys.readouterr().err
    assert f"the run history {board} is a file; --history takes the directory" in error
    assert error.count("\n") == 1


def test_history_given_a_missing_directory_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--history", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_history_suite_name_with_a_separator_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "../elsewhere", "--history", str(tmp_path)]) == 2
    assert "suite name '../elsewhere' contains '/'" in capsys.readouterr().err


def test_suite_show_prints_a_shipped_suite(capsys: pytest.CaptureFixture[str]) -> None:
    from robustprune.suite import SUITES_DIR

    assert main(["suite", "show", "digits"]) == 0
    assert capsys.readouterr().out == (SUITES_DIR / "digits.toml").read_text()


def test_suite_copy_writes_a_loadable_copy_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from robustprune.suite import load_suite

    monkeypatch.chdir(tmp_path)
    assert main(["suite", "copy", "digits"]) == 0
    assert "--rp-suite digits.toml" in capsys.readouterr().out
    assert load_suite(tmp_path / "digits.toml").name == "digits"
    (tmp_path / "digits.toml").write_text("# mine")
    assert main(["suite", "copy", "digits"]) == 2
    assert "exists; nothing was copied" in capsys.readouterr().err
    assert (tmp_path / "digits.toml").read_text() == "# mine"
    (tmp_path / "into").mkdir()
    assert main(["suite", "copy", "digits", "into"]) == 0
    assert (tmp_path / "into" / "digits.toml").is_file()


def test_suite_show_unknown_lists_the_shipped_suites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suite", "show", "digitz"]) == 2
    assert "no shipped suite 'digitz'; shipped suites: cifar10" in capsys.readouterr().err
