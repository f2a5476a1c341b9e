"""Artifacts, leaderboards and stored runs get the permissions the umask gives any new file
(they were 0600 whatever the umask: mkstemp's private temporary file was renamed into place)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from robustprune.cache import ArtifactStore
from robustprune.history import save_run
from robustprune.leaderboard import write_leaderboard
from robustprune.paths import current_umask, write_atomic

BOARD = Path(__file__).parent / "fixtures" / "synthetic_leaderboard.json"


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_umask_is_read_without_changing_it(umask: int) -> None:
    assert current_umask() == umask
    assert current_umask() == umask


def test_files_honour_the_umask_artifacts_leaderboards_history(tmp_path: Path, umask: int) -> None:
    expected = 0o666 & ~umask
    write_atomic(tmp_path / "plain.txt", "x")
    assert mode(tmp_path / "plain.txt") == expected

    store = ArtifactStore(tmp_path / "cache")
    store.get_or_create("parent", {"arch": "net"}, lambda: ({"w": torch.ones(2)}, {"a": 1.0}))
    written = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "lock" not in p.name]
    assert written and {oct(mode(p)) for p in written} == {oct(expected)}

    board = json.loads(BOARD.read_text())
    for path in write_leaderboard(board, tmp_path / "board"):
        assert mode(path) == expected, path

    single = {
        **board,
        "records": [r for r in board["records"] if r["suite"] == board["records"][0]["suite"]],
    }
    run = save_run(single, tmp_path / "history", tmp_path, ["pytest"])
    assert {oct(mode(p)) for p in run.path.iterdir()} == {oct(expected)}


def test_a_write_past_ulimit_f_names_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    """``ulimit -f`` gives "File too large" with no file name; the error names the target."""
    target = tmp_path / "leaderboard.json"
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from robustprune.paths import write_atomic\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10, 10))\n"
        "try:\n"
        "    write_atomic(Path(sys.argv[1]), 'x' * 100)\n"
        "except OSError as error:\n"
        "    print(error.filename, '|', error)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60
    )
    assert run.stdout.startswith(f"{target} |") and "File too large" in run.stdout, run
    assert list(tmp_path.iterdir()) == []
