"""One line per finished benchmark case with an ETA that counts running cases; -q keeps only
those lines; a run header says what the run measures and where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from robustprune.plugin.eta import CaseClock, case_line, duration, echo_progress, remaining_time

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (8.4, "8s"), (75.2, "1m 15s"), (3725, "1h 02m")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_case_line_shows_the_eta_until_the_last_case() -> None:
    assert case_line(2, 6, "d-a-WT", "passed", 42, 120, 240) == (
        "2/6 d-a-WT passed in 42s; elapsed 2m 00s, ETA 4m 00s"
    )
    assert (
        case_line(6, 6, "d-a-FT", "failed", 1, 300, 0) == "6/6 d-a-FT failed in 1s; elapsed 5m 00s"
    )


def test_remaining_time_counts_what_running_cases_have_left() -> None:
    # nothing running: queued cases at the mean time, spread over the workers
    assert remaining_time(60, [], 4, 2) == 120
    # two cases 50 s into a 60 s mean have 10 s left each, run side by side
    assert remaining_time(60, [50, 50], 0, 2) == 10
    # a case past the mean has nothing left (never negative); one worker runs the queue alone
    assert remaining_time(60, [90], 2, 1) == 120
    # one long remainder bounds the ETA from below however many workers there are
    assert remaining_time(60, [0], 0, 8) == 60


def test_eta_counts_cases_already_running() -> None:
    """The finding: 'ETA 2m 40s' printed while the last cases were nearly done (22 s later).

    Two workers, four 100 s cases started together: when the first two finish, the other two
    have run 100 s as well, so the ETA is what is left of them, not two more mean cases."""
    now = [0.0]
    lines: list[str] = []
    clock = CaseClock(lines.append, clock=lambda: now[0], workers=2)
    clock.pytest_xdist_node_collection_finished(None, ["a", "b", "c", "d"])
    names = [f"bench/test_p.py::test_prune_potential[d-{arch}-WT]" for arch in "abcd"]
    for name in names:
        clock.pytest_runtest_logstart(name, ("bench/test_p.py", 1, name))
    now[0] = 95.0
    for name in names[:2]:
        clock.pytest_runtest_logreport(report(name, "call", "passed", 95))
        clock.pytest_runtest_logreport(report(name, "teardown", "passed", 0))
    assert lines[-1] == "2/4 d-b-WT passed in 1m 35s; elapsed 1m 35s, ETA 0s"
    # the old rule (elapsed / done x remaining) said 1m 35s here
    now[0] = 100.0
    clock.pytest_runtest_logreport(report(names[2], "teardown", "passed", 0))
    assert lines[-1].endswith("ETA 0s")


def test_eta_of_a_queue_spreads_over_the_workers() -> None:
    now = [0.0]
    lines: list[str] = []
    clock = CaseClock(lines.append, clock=lambda: now[0], workers=2)
    clock.pytest_xdist_node_collection_finished(None, list("abcdef"))
    names = [f"t.py::test[d-{arch}-WT]" for arch in "abcdef"]
    for name in names[:2]:
        clock.pytest_runtest_logstart(name, ("t.py", 1, name))
    now[0] = 60.0
    clock.pytest_runtest_logreport(report(names[0], "teardown", "passed", 0))
    clock.pytest_runtest_logstart(names[2], ("t.py", 1, names[2]))
    # running: b (60 s in, 0 left) and c (0 s in, 60 left); queued: d, e, f -> (60 + 180) / 2
    assert lines[-1] == "1/6 d-a-WT passed in 1m 00s; elapsed 1m 00s, ETA 2m 00s"


def report(nodeid: str, when: str, outcome: str, duration: float = 1.0) -> SimpleNamespace:
    return SimpleNamespace(
        nodeid=nodeid,
        when=when,
        outcome=outcome,
        duration=duration,
        passed=outcome == "passed",
        failed=outcome == "failed",
        skipped=outcome == "skipped",
    )


def test_case_clock_writes_one_line_per_case_with_its_outcome() -> None:
    now = [100.0]
    lines: list[str] = []
    clock = CaseClock(lines.append, clock=lambda: now[0])
    clock.pytest_xdist_node_collection_finished(None, ["a", "b", "c"])
    case = "bench/test_p.py::test_prune_potential[{}]"
    for name, reports in [
        ("d-a-WT", [("setup", "passed"), ("call", "failed"), ("teardown", "passed")]),
        ("d-a-FT", [("setup", "failed"), ("teardown", "passed")]),  # an error: no call
        ("d-a-SiPP", [("setup", "skipped"), ("teardown", "passed")]),
    ]:
        for when, outcome in reports:
            now[0] += 10
            clock.pytest_runtest_logreport(report(case.format(name), when, outcome))
    assert lines == [
        "1/3 d-a-WT failed in 21s; elapsed 30s, ETA 42s",
        "2/3 d-a-FT error in 11s; elapsed 50s, ETA 16s",
        "3/3 d-a-SiPP skipped in 11s; elapsed 1m 10s",
    ]


@pytest.mark.parametrize(("verbosity", "echo"), [(-1, False), (0, True), (1, True)])
def test_progress_echo_follows_verbosity(verbosity: int, echo: bool) -> None:
    config = SimpleNamespace(get_verbosity=lambda: verbosity)
    assert echo_progress(config) is echo  # type: ignore[arg-type]


def test_a_case_whose_worker_crashed_counts_as_done() -> None:
    """xdist reports such a case once, with ``when="???"`` and no teardown; it must not stay
    'running' (holding the count below the total and the ETA up)."""
    now = [0.0]
    lines: list[str] = []
    clock = CaseClock(lines.append, clock=lambda: now[0], workers=2)
    clock.pytest_xdist_node_collection_finished(None, ["a", "b"])
    names = ["t.py::test[d-a-WT]", "t.py::test[d-b-WT]"]
    for name in names:
        clock.pytest_runtest_logstart(name, ("t.py", 1, name))
    now[0] = 30.0
    clock.pytest_runtest_logreport(report(names[0], "???", "failed", 0))
    assert lines == ["1/2 d-a-WT crashed its worker in 30s; elapsed 30s, ETA 0s"]
    now[0] = 40.0
    clock.pytest_runtest_logreport(report(names[1], "teardown", "passed", 0))
    assert lines[-1] == "2/2 d-b-WT passed in 40s; elapsed 40s"


def run_pytest(*args: str) -> str:
    env = {**os.environ, "ROBUSTPRUNE_CACHE": os.environ.get("ROBUSTPRUNE_CACHE", "/tmp/rp-eta")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/", "--co", "-p", "no:cacheprovider", *args],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_a_run_header_names_suite_delta_seeds_cache_device_and_workers() -> None:
    out = run_pytest("--rp-seeds", "100-104", "-n", "2")
    header = [line for line in out.splitlines() if line.startswith("robustprune: ")]
    assert len(header) == 3, out
    assert "suite digits (" in header[0] and "digits.toml" in header[0]
    assert "δ = 3 accuracy points" in header[1] and "seeds 100-104" in header[1]
    assert "grid 30.0–96.7 %" in header[1]
    assert "cache " in header[2] and "device " in header[2]
    assert "workers 2 (--dist loadgroup)" in header[2]
    # above the collected cases: it is the session's first word on what runs
    assert out.index("robustprune: suite") < out.index("test_prune_potential[")


def test_the_run_header_is_kept_under_q() -> None:
    out = run_pytest("-q")
    assert out.startswith("robustprune: suite digits"), out[:300]
    assert "workers 1" in out
