"""Stored runs never overwrite one another (suite names that would lead out of the history are
refused when the suite loads: tests/test_faults_suite_input.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from robustprune.history import list_runs, save_run

BOARD = Path(__file__).parent / "fixtures" / "synthetic_leaderboard.json"


def one_suite() -> dict:
    board = json.loads(BOARD.read_text())
    suite = board["records"][0]["suite"]
    return {**board, "records": [r for r in board["records"] if r["suite"] == suite]}


def test_history_two_runs_in_the_same_second_are_both_kept(tmp_path: Path) -> None:
    board = one_suite()
    created = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)
    first = save_run(board, tmp_path, tmp_path, ["pytest", "first"], created=created)
    before = {p.name: p.read_bytes() for p in first.path.iterdir()}
    second = save_run(board, tmp_path, tmp_path, ["pytest", "second"], created=created)
    assert first.path != second.path and second.path.name.endswith("-2")
    assert {p.name: p.read_bytes() for p in first.path.iterdir()} == before
    assert [run.path for run in list_runs(tmp_path)] == [first.path, second.path]
