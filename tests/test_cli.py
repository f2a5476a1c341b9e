"""The ``robustprune`` command line (robustprune.cli.main)."""

from __future__ import annotations

import csv
import io
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from robustprune.cli import main
from robustprune.leaderboard import dumps, example_record, make_leaderboard
from robustprune.methods import BUILTIN_METHODS, READY_MADE_METHODS
from robustprune.pruning.tp_criteria import torch_pruning_version


def write(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text(dumps(make_leaderboard(records)))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A baseline and a current leaderboard: WT loses 10 points of nominal PP, FT gains 5."""
    baseline = write(
        tmp_path / "baseline.json",
        example_record("WT", nominal_pp=(0.9, 0.9), shifted_pp=(0.3, 0.3)),
        example_record("FT", nominal_pp=(0.45, 0.45), shifted_pp=(0.3, 0.3)),
    )
    current = write(
        tmp_path / "current.json",
        example_record("WT", nominal_pp=(0.8, 0.8), shifted_pp=(0.3, 0.3)),
        example_record("FT", nominal_pp=(0.5, 0.5), shifted_pp=(0.3, 0.3)),
    )
    return baseline, current


def test_render_text_md_and_csv(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, _ = files
    assert main(["render", str(baseline)]) == 0
    text = capsys.readouterr().out
    assert "suite digits · dataset digits · arch resnet20" in text and "90.0 [90.0, 90.0]" in text
    assert main(["render", str(baseline), "--format", "md"]) == 0
    assert "| WT " in capsys.readouterr().out
    assert main(["render", str(baseline), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["method"], float(row["nominal_pp_mean"])) for row in rows] == [
        ("FT", 0.45),
        ("WT", 0.9),
    ]


def test_compare_exits_1_on_a_regression_beyond_the_gate(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, current = files
    assert main(["compare", str(baseline), str(current), "--fail", "prune_potential:0.05"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION (gate failed)" in out
    assert (
        "gate prune_potential:0.05 failed for digits/digits/resnet20/WT (nominal_pp): 90.0% -> 80.0%"
        in out
    )


def test_compare_passes_within_the_gates(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, current = files
    assert main(["compare", str(baseline), str(current), "--fail", "nominal_pp:0.1"]) == 0
    assert main(["compare", str(current), str(current)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 regression(s), 0 improvement(s)")


def test_percent_tolerances_mean_percentage_points(files: tuple[Path, Path]) -> None:
    baseline, current = files
    assert main(["compare", str(baseline), str(current), "--fail", "prune_potential:5%"]) == 1
    assert main(["compare", str(baseline), str(current), "--fail", "prune_potential:10%"]) == 0


def test_a_gate_on_a_metric_the_baseline_lacks_is_refused(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A tolerance finer than the grid is allowed (the gate fails on the lower bound); a gate
    the baseline cannot answer is refused with exit status 2."""
    baseline, current = files
    assert main(["compare", str(baseline), str(current), "--fail", "prune_potential:0.01"]) == 1
    capsys.readouterr()
    assert main(["compare", str(baseline), str(current), "--fail", "accuracy_change:1%"]) == 2
    err = capsys.readouterr().err
    assert "no baseline record has nominal_accuracy_change, shifted_accuracy_change" in err


def test_a_change_within_the_uncertainty_is_no_regression(tmp_path: Path) -> None:
    """Seeds that disagree widen the intervals: a 5-point drop inside them does not fail."""
    baseline = write(tmp_path / "b.json", example_record("WT", nominal_pp=(0.95, 0.75)))
    current = write(tmp_path / "c.json", example_record("WT", nominal_pp=(0.9, 0.7)))
    assert main(["compare", str(baseline), str(current), "--fail", "prune_potential:0.05"]) == 0
    assert main(["compare", str(baseline), str(current)]) == 0


def test_compare_without_gates_fails_on_any_regression(files: tuple[Path, Path]) -> None:
    baseline, current = files
    assert main(["compare", str(baseline), str(current)]) == 1
    assert main(["compare", str(baseline), str(baseline)]) == 0


def test_bad_files_and_gates_exit_2(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, _ = files
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": 1, "created": "x", "environment": {}, "records": [7]}')
    assert main(["compare", str(baseline), str(broken)]) == 2
    assert (
        f"leaderboard file '{broken}': records[0]: expected an object, got 7"
        in capsys.readouterr().err
    )
    assert main(["render", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", str(baseline), str(baseline), "--fail", "speed:1"]) == 2
    assert "unknown metric 'speed'; valid metrics: nominal_pp" in capsys.readouterr().err
    assert main(["render"]) == 2


def test_list_pruners_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "pruners"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted([*BUILTIN_METHODS, *READY_MADE_METHODS])
    wt = next(line for line in lines if line.startswith("WT "))
    assert "Remove the smallest-magnitude weights" in wt and "[robustprune (" in wt
    lamp = next(line for line in lines if line.startswith("tp:lamp "))
    assert "LAMP" in lamp and lamp.endswith(
        f"[ready-made from torch-pruning {torch_pruning_version()}]"
    )
    assert main(["list", "models", "--include", "resnet*"]) == 0
    models = capsys.readouterr().out.split()
    assert "resnet20" in models and all(name.startswith("resnet") for name in models)


def test_list_datasets_and_shifts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "datasets"]) == 0
    assert {"digits", "cifar10"} <= set(capsys.readouterr().out.split())
    assert main(["list", "shifts", "--include", "corruption:gaussian_noise:*"]) == 0
    assert "corruption:gaussian_noise:3" in capsys.readouterr().out.split()


def test_list_names_a_missing_registry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "robustprune.data.shifts", None)
    assert main(["list", "shifts"]) == 2
    assert "robustprune list: error: cannot list shifts" in capsys.readouterr().err


def test_report_calls_write_report(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    calls: list[tuple[dict[str, Any], Path]] = []
    fake = types.ModuleType("robustprune.report")
    fake.write_report = lambda board, out: calls.append((board, out)) or out / "index.html"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "robustprune.report", fake)
    baseline, _ = files
    assert main(["report", str(baseline), str(tmp_path / "r")]) == 0
    [(board, out)] = calls
    assert out == tmp_path / "r" and len(board["records"]) == 2
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'r' / 'index.html'}"


def test_console_script_is_declared() -> None:
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'robustprune = "robustprune.cli:main"' in pyproject
