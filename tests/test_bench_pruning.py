"""benchmarks/bench_pruning.py: the step and the scores-only figures it prints."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pruning.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pruning", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scores_only_prints_each_methods_scores_as_a_multiple_of_forward_backward(capsys):
    _bench().main(
        ["--arch", "resnet20", "--sample", "4", "--repeats", "1"]
        + ["--scores-only", "--methods", "SiPP,PFP"]
    )
    lines = capsys.readouterr().out.splitlines()
    assert "forward+backward over S" in lines[0]
    for name, line in zip(("SiPP", "PFP"), lines[1:], strict=True):
        match = re.fullmatch(rf"{name}\s+scores:\s+([\d.]+) ms =\s+([\d.]+) x .*", line)
        assert match and float(match[1]) > 0 and float(match[2]) > 0, line


def test_scores_only_names_a_method_without_scores(capsys):
    with pytest.raises(SystemExit):
        _bench().main(["--arch", "resnet20", "--sample", "4", "--scores-only", "--methods", "WT"])
    assert "WT has no scores; choose from SiPP, PFP" in capsys.readouterr().err
