"""robustprune bench claims: the statistics behind the README's held-out claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from robustprune.baselines import shipped_baseline
from robustprune.bench import claims

COMMAND = [sys.executable, "-m", "robustprune", "bench", "claims"]


def test_holm_matches_hand_computation() -> None:
    # sorted p: 0.01 (x3 -> 0.03), 0.02 (x2 -> 0.04), 0.04 (x1, but monotone -> 0.04)
    assert claims.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])


def test_one_sided_p_is_small_for_consistent_positive_gaps_only() -> None:
    assert claims.one_sided_p([0.20, 0.22, 0.25, 0.21, 0.24]) < 0.001
    assert claims.one_sided_p([0.2, -0.2, 0.1, -0.1, 0.0]) > 0.4


def test_pooled_interval_covers_the_pooled_mean() -> None:
    gaps = [[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]]
    low, high, error = claims.pooled_bootstrap(gaps)
    assert low < 0.3 < high
    assert 0 <= error < 0.01


def test_script_prints_a_table_per_method(tmp_path: Path) -> None:
    board = shipped_baseline("digits")
    result = subprocess.run(
        [*COMMAND, str(board), "--methods", "WT"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "WT: gap = nominal PP - shifted PP mean" in result.stdout
    assert "pooled gap over 4 networks" in result.stdout
    assert "SiPP:" not in result.stdout


def test_unknown_method_is_named(tmp_path: Path) -> None:
    board = shipped_baseline("digits")
    result = subprocess.run(
        [*COMMAND, str(board), "--methods", "XX"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "no record of method 'XX'" in result.stderr


def test_without_scipy_the_command_says_how_to_get_it(monkeypatch, capsys) -> None:
    monkeypatch.setattr(claims, "stats", None)
    with pytest.raises(SystemExit) as stop:
        claims.main([str(shipped_baseline("digits"))], prog="robustprune bench claims")
    assert "robustprune bench claims needs scipy" in str(stop.value)
    assert "pip install 'robustprune[stats]'" in str(stop.value)
