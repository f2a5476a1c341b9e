"""``robustprune bench NAME``: the shipped benchmark scripts, run from the command line."""

from __future__ import annotations

import pytest

from robustprune.bench import BENCHES
from robustprune.cli import main


def test_bench_lists_its_scripts_on_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "epoch-time"]) == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'epoch-time'" in error and "epoch-times" in error


def test_bench_passes_the_rest_of_the_command_line_to_the_script(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "epoch-times" in BENCHES
    with pytest.raises(SystemExit) as exit:
        main(["bench", "epoch-times", "--suites", "imagenet", "--archs", "nonet", "resnet18"])
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert "usage: robustprune bench epoch-times" in error
    assert "--archs nonet: not in suite(s) imagenet, whose architectures are" in error
    assert "resnet18" not in error.split("--archs", 1)[1].split(":", 1)[0]  # only the unknown one
