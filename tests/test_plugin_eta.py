"""One line per finished benchmark case with an ETA; -q keeps only those lines."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from robustprune.plugin.eta import CaseClock, case_line, duration, echo_progress


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (8.4, "8s"), (75.2, "1m 15s"), (3725, "1h 02m")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_case_line_extrapolates_the_mean_case_time() -> None:
    assert case_line(2, 6, "d-a-WT", "passed", 42, 120) == (
        "2/6 d-a-WT passed in 42s; elapsed 2m 00s, ETA 4m 00s"
    )
    assert case_line(6, 6, "d-a-FT", "failed", 1, 300) == "6/6 d-a-FT failed in 1s; elapsed 5m 00s"


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
        "1/3 d-a-WT failed in 21s; elapsed 30s, ETA 1m 00s",
        "2/3 d-a-FT error in 11s; elapsed 50s, ETA 25s",
        "3/3 d-a-SiPP skipped in 11s; elapsed 1m 10s",
    ]


@pytest.mark.parametrize(("verbosity", "echo"), [(-1, False), (0, True), (1, True)])
def test_progress_echo_follows_verbosity(verbosity: int, echo: bool) -> None:
    config = SimpleNamespace(get_verbosity=lambda: verbosity)
    assert echo_progress(config) is echo  # type: ignore[arg-type]
