"""Run history: --rp-autosave stores each run, --rp-compare [latest] compares with the last one."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from robustprune.cli import main
from robustprune.history import list_runs, run_name

pytest_plugins = ["pytester"]

BENCHMARK = """
import os
import pytest
from robustprune.leaderboard import example_record

@pytest.mark.parametrize("method", ["WT", "FT"], ids=["digits-resnet20-WT", "digits-resnet20-FT"])
def test_prune_potential(method, rp_record):
    wt = float(os.environ["RP_WT"])
    nominal = {"WT": (wt, wt), "FT": (0.5, 0.5)}[method]
    rp_record(example_record(method, nominal_pp=nominal, shifted_pp=(0.3, 0.3)))
"""

NAME = re.compile(r"^\d{8}T\d{6}Z-nogit(-\d+)?$")


@pytest.fixture
def bench(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(test_bench=BENCHMARK)
    monkeypatch.delenv("ROBUSTPRUNE_HISTORY", raising=False)
    return pytester


def run(bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, wt: float, *args: str):
    monkeypatch.setenv("RP_WT", str(wt))
    return bench.runpytest("-p", "no:cacheprovider", *args)


def test_autosave_stores_each_run_with_provenance(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    for wt in (0.9, 0.8):
        result = run(bench, monkeypatch, wt, "--rp-autosave", f"--rp-history={history}")
        assert result.ret == 0
    runs = list_runs(history)
    assert [r.suite for r in runs] == ["digits", "digits"]
    assert all(NAME.match(r.name) for r in runs), [r.name for r in runs]
    assert runs[0].name != runs[1].name
    stored = {
        r["method"]: r["summary"]["nominal_pp"]["mean"]
        for r in json.loads(runs[0].leaderboard.read_text())["records"]
    }
    assert stored == {"FT": 0.5, "WT": 0.9}  # the first run's leaderboard, as it was
    assert {p.name for p in runs[1].path.iterdir()} == {
        "leaderboard.json", "leaderboard.md", "leaderboard.csv", "run.json"
    }  # fmt: skip
    provenance = runs[1].provenance
    assert provenance["suite"] == "digits" and provenance["records"] == 2
    assert provenance["git_commit"] is None  # pytester's directory is no git checkout
    assert "--rp-autosave" in provenance["command"]
    assert datetime.fromisoformat(provenance["created"]).tzinfo is not None
    result.stdout.fnmatch_lines([f"wrote {runs[1].path}"])


def test_compare_without_a_file_uses_the_last_stored_run_of_the_suite(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"  # history defaults to <--rp-cache>/history
    run(bench, monkeypatch, 0.9, "--rp-autosave", f"--rp-cache={cache}")
    run(bench, monkeypatch, 0.7, "--rp-autosave", f"--rp-cache={cache}")
    [older, latest] = list_runs(cache / "history", "digits")
    result = run(bench, monkeypatch, 0.8, f"--rp-cache={cache}", "--rp-compare")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"*robustprune comparison with {latest.leaderboard}*",
            "*digits/digits/resnet20/WT*nominal_pp*70.0%*80.0%*+10.0 pp*improvement",
        ]
    )
    result = run(
        bench, monkeypatch, 0.8, f"--rp-cache={cache}", "--rp-compare", "latest",
        "--rp-compare-fail", "prune_potential:0.05",
    )  # fmt: skip
    assert result.ret == 0  # better than the latest run (0.7), though worse than the older 0.9
    result = run(bench, monkeypatch, 0.8, f"--rp-cache={cache}", f"--rp-compare={older.path}")
    result.stdout.fnmatch_lines(["*WT*nominal_pp*90.0%*80.0%*-10.0 pp*REGRESSION"])


def test_latest_without_a_stored_run(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    history = tmp_path / "empty"
    result = run(bench, monkeypatch, 0.9, f"--rp-history={history}", "--rp-compare")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [f"robustprune: --rp-compare latest: no stored run of suite 'digits' in {history}; *"]
    )
    gated = run(
        bench, monkeypatch, 0.9, f"--rp-history={history}", "--rp-compare", "latest",
        "--rp-compare-fail", "nominal_pp:0.05",
    )  # fmt: skip
    assert gated.ret == pytest.ExitCode.USAGE_ERROR
    gated.stderr.fnmatch_lines(["*no stored run of suite 'digits' in *--rp-autosave*"])


def test_compare_with_a_directory_that_is_no_run(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = run(bench, monkeypatch, 0.9, f"--rp-compare={tmp_path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-compare: * is a directory without leaderboard.json*"])


def test_cli_history_lists_the_stored_runs(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    history = tmp_path / "history"
    for wt in (0.9, 0.8):
        run(bench, monkeypatch, wt, "--rp-autosave", f"--rp-history={history}")
    capsys.readouterr()
    runs = list_runs(history)
    assert main(["history", "--history", str(history)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [["digits", r.name, "2"] for r in runs]
    assert all("no git" in line and "--rp-autosave" in line for line in lines)
    monkeypatch.setenv("ROBUSTPRUNE_HISTORY", str(history))
    assert main(["history", "digits", "--paths"]) == 0
    assert capsys.readouterr().out.split() == [str(r.leaderboard) for r in runs]
    assert main(["history", "cifar10"]) == 0
    assert "no stored runs of suite 'cifar10' in" in capsys.readouterr().out


def test_run_names_are_time_and_commit_and_unique() -> None:
    created = datetime(2026, 11, 28, 18, 10, 40, tzinfo=UTC)
    assert run_name(created, "82fec3a1234") == "20261128T181040Z-82fec3a"
    assert run_name(created, None, {"20261128T181040Z-nogit"}) == "20261128T181040Z-nogit-2"


def test_autosave_under_xdist_stores_one_run(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    history = tmp_path / "history"
    result = run(bench, monkeypatch, 0.9, "-n", "2", "--rp-autosave", f"--rp-history={history}")
    assert result.ret == 0
    [stored] = list_runs(history)
    assert stored.provenance["records"] == 2 and stored.provenance["environment"]["workers"] == 2
