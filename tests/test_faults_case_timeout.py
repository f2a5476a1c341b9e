"""``--rp-case-timeout SECONDS`` turns a hung case into one failed case; the others run and the
leaderboard is written. ``--rp-ray-store`` without ``--rp-ray`` is a usage error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_plugin_extensions import doc_block, worked_example  # noqa: F401  (fixture)

from robustprune.plugin.faults import CaseTimeoutError, case_deadline

pytest_plugins = ["pytester"]


def test_case_timeout_raises_in_the_case_naming_it_and_the_limit() -> None:
    started = time.monotonic()
    with pytest.raises(CaseTimeoutError, match=r"case-x ran longer than --rp-case-timeout 0.2 s"):
        with case_deadline("case-x", 0.2):
            while True:
                time.sleep(0.01)
    assert time.monotonic() - started < 5


def test_case_timeout_leaves_no_alarm_behind_when_the_case_finishes() -> None:
    with case_deadline("quick", 0.3):
        pass
    time.sleep(0.5)  # an alarm left set would raise here


def test_case_timeout_ends_a_process_stuck_outside_python() -> None:
    """The alarm cannot reach a case stuck in native code (here: the signal is blocked)."""
    code = (
        "import signal, time\n"
        "from robustprune.plugin.faults import case_deadline\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
        "with case_deadline('stuck-case', 0.2, grace=0.3):\n"
        "    time.sleep(30)\n"
    )
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "stuck-case did not stop 0.3 s after --rp-case-timeout 0.2 s" in run.stderr
    assert time.monotonic() - started < 20


HANG_CONFTEST = """
import time

from robustprune import Pruner


class Hang(Pruner):
    name, structured, data_informed = "Hang", False, False

    def prune(self, model, prune_ratio, sample):
        time.sleep(3600)


def pytest_robustprune_pruners(registry):
    registry.register(Hang, origin="conftest.py")
"""


@pytest.mark.slow
def test_case_timeout_fails_a_hung_pruner_and_the_run_goes_on(
    pytester: pytest.Pytester,
    tmp_path: Path,
    worked_example: Path,  # noqa: F811
) -> None:
    suite = doc_block("# mydigits/mydigits.toml")
    (pytester.path / "wt.toml").write_text(suite)
    (pytester.path / "hang.toml").write_text(
        suite.replace('methods = ["WT"]', 'methods = ["Hang", "WT"]')
    )
    (pytester.path / "conftest.py").write_text(HANG_CONFTEST)
    common = ["--rp-data", str(worked_example), "--rp-cache", str(tmp_path / "cache")]
    common += ["-p", "no:cacheprovider", "-n", "0"]
    warm = pytester.runpytest_subprocess("benchmarks/", "--rp-suite", "wt.toml", *common)
    assert warm.ret == 0, warm.stdout.str()  # parents and WT in the store: the rest is quick
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "hang.toml", "--rp-case-timeout", "10",
        "--rp-leaderboard", str(tmp_path / "out"), *common,
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert time.monotonic() - started < 300, output
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1, output
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1, output
    assert "mydigits-tinynet-Hang] ran longer than --rp-case-timeout 10 s" in output
    [record] = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["records"]
    assert record["method"] == "WT"


def test_ray_store_without_ray_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--rp-ray-store", "shared", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-ray-store shared only applies with --rp-ray*"])


@pytest.mark.parametrize("value", ["0", "-5", "nan", "soon"])
def test_case_timeout_must_be_positive_seconds(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(f"--rp-case-timeout={value}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rp-case-timeout*seconds*"])
