"""The --rp-* options: defaults, environment variables, validation, and --rp-report."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

DUMP_OPTIONS = """
import dataclasses, json, os

def test_dump(rp_options):
    values = {k: str(v) if v is not None else None for k, v in dataclasses.asdict(rp_options).items()}
    values["compare_fail"] = [[g.metric, g.tolerance] for g in rp_options.compare_fail]
    with open(os.environ["RP_DUMP"], "w") as stream:
        json.dump(values, stream)
"""


@pytest.fixture
def dump(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run pytester with the given args and return the RunOptions the case saw, as JSON."""
    pytester.makepyfile(test_dump=DUMP_OPTIONS)
    target = tmp_path / "options.json"
    monkeypatch.setenv("RP_DUMP", str(target))
    for name in ("ROBUSTPRUNE_DATA", "ROBUSTPRUNE_CACHE", "ROBUSTPRUNE_HISTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def run(*args: str) -> dict[str, Any]:
        result = pytester.runpytest(*args)
        result.assert_outcomes(passed=1)
        return json.loads(target.read_text())

    return run


def test_defaults(dump: Any, tmp_path: Path) -> None:
    assert dump() == {
        "suite": "digits",
        "data": None,
        "cache": str(tmp_path / "xdg" / "robustprune" / "artifacts"),
        "leaderboard": None,
        "compare": None,
        "compare_fail": [],
        "report": None,
        "seeds": None,
        "autosave": "False",
        "history": str(tmp_path / "xdg" / "robustprune" / "artifacts" / "history"),
        "compare_note": None,
        "ray": None,
        "ray_store": "driver",
        "case_timeout": None,
    }


def test_environment_then_options(
    dump: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROBUSTPRUNE_DATA", str(tmp_path / "env-data"))
    monkeypatch.setenv("ROBUSTPRUNE_CACHE", str(tmp_path / "env-cache"))
    assert dump()["data"] == str(tmp_path / "env-data")
    assert dump()["cache"] == str(tmp_path / "env-cache")
    chosen = dump(
        "--rp-suite=cifar10", f"--rp-data={tmp_path / 'd'}", f"--rp-cache={tmp_path / 'c'}",
        "--rp-seeds=3", f"--rp-leaderboard={tmp_path / 'lb'}",
    )  # fmt: skip
    assert (chosen["suite"], chosen["seeds"]) == ("cifar10", "(0, 1, 2)")
    assert (chosen["data"], chosen["cache"]) == (str(tmp_path / "d"), str(tmp_path / "c"))
    assert chosen["leaderboard"] == str(tmp_path / "lb")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rp-seeds=0"], "*--rp-seeds '0': the seed count must be in 1..1000, got 0*"),
        (["--rp-seeds=two"], "*--rp-seeds 'two': expected a count N (seeds 0..N-1)*"),
        (["--rp-seeds=100000000000"], "*the seed count must be in 1..1000*"),
        (["--rp-compare=b.json", "--rp-compare-fail=nominal_pp"], "*is not METRIC:TOL*"),
        (["--rp-compare=b.json", "--rp-compare-fail=gap:-0.1"], "*tolerance must be*>= 0*"),
    ],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


RECORDING_CASE = """
from robustprune.leaderboard import example_record

def test_case(rp_record):
    rp_record(example_record())
"""


def test_report_calls_write_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[dict[str, Any], Path]] = []
    fake = types.ModuleType("robustprune.report")
    fake.write_report = lambda leaderboard, out_dir: calls.append((leaderboard, out_dir))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "robustprune.report", fake)
    pytester.makepyfile(RECORDING_CASE)
    result = pytester.runpytest(f"--rp-report={tmp_path / 'report'}")
    assert result.ret == pytest.ExitCode.OK
    [(leaderboard, out_dir)] = calls
    assert out_dir == tmp_path / "report"
    assert [record["method"] for record in leaderboard["records"]] == ["WT"]
    result.stdout.fnmatch_lines([f"wrote {tmp_path / 'report'}"])


def test_report_without_the_report_module_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "robustprune.report", None)  # makes the import fail
    pytester.makepyfile(RECORDING_CASE)
    result = pytester.runpytest(f"--rp-report={tmp_path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-report needs robustprune.report.write_report*"])


def test_a_failing_report_fails_the_session_but_keeps_the_leaderboard(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = types.ModuleType("robustprune.report")

    def write_report(leaderboard: dict[str, Any], out_dir: Path) -> None:
        raise RuntimeError("no fonts")

    fake.write_report = write_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "robustprune.report", fake)
    pytester.makepyfile(RECORDING_CASE)
    result = pytester.runpytest(f"--rp-report={tmp_path / 'r'}", f"--rp-leaderboard={tmp_path}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*cannot write the report to*RuntimeError('no fonts')*"])
    assert (tmp_path / "leaderboard.json").exists()


def test_plain_runs_import_no_torch(pytester: pytest.Pytester) -> None:
    """The plugin is loaded into every pytest run; it must stay cheap to import."""
    pytester.makepyfile(
        """
        import sys

        def test_cheap():
            assert "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)
