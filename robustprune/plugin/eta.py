"""One line per finished benchmark case with a rough ETA, and how verbose the progress echo is.

``pytest -q`` echoes only these lines; the default and ``-v`` echo every progress line too
(which parent or prune step trains, epoch by epoch); ``-qq`` echoes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def echo_progress(config: pytest.Config) -> bool:
    """Whether training progress lines reach the terminal (not under ``-q`` or quieter)."""
    return config.get_verbosity() >= 0


def duration(seconds: float) -> str:
    """``75.2`` -> ``1m 15s``; ``3725`` -> ``1h 02m``; ``8.4`` -> ``8s``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def case_line(
    done: int, total: int, case: str, outcome: str, took: float, elapsed: float,
    eta: float | None = None,
) -> str:  # fmt: skip
    """``3/16 digits-resnet20-WT passed in 42s; elapsed 2m 06s, ETA 10m 30s`` (no ETA once all
    are done, or when ``eta`` is None)."""
    line = f"{done}/{total} {case} {outcome} in {duration(took)}; elapsed {duration(elapsed)}"
    if done < total and eta is not None:
        line += f", ETA {duration(eta)}"
    return line


def remaining_time(mean_case: float, running_ages: list[float], queued: int, workers: int) -> float:
    """Seconds until the last case ends: cases already running need what is left of a mean
    case (``mean_case - age``, at least 0), queued ones a whole mean case each, spread over
    ``workers`` processes; never less than the longest remainder of a running case."""
    left = [max(mean_case - age, 0.0) for age in running_ages]
    spread = (sum(left) + queued * mean_case) / max(workers, 1)
    return max([spread, *left])


CRASHED = "???"
"""The ``when`` of the report pytest-xdist makes for a case whose worker died: its last one."""


class CaseClock:
    """Controller-side plugin: counts collected cases and reports each as it finishes.

    The ETA counts the cases already running (started on some worker, not finished) by how
    long they have run, so the last cases of a run do not each get a whole mean case time.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        workers: int = 1,
    ) -> None:
        self.write = write
        self.clock = clock
        self.workers = max(workers, 1)
        self.start = clock()
        self.total = 0
        self.done = 0
        self._started: dict[str, float] = {}
        self._outcome: dict[str, str] = {}
        self._took: list[float] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = self.total or len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.total = max(self.total, len(ids))

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self._started.setdefault(nodeid, self.clock())

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        now = self.clock()
        self._started.setdefault(report.nodeid, now - report.duration)
        if report.when == "call":
            self._outcome[report.nodeid] = report.outcome
        elif report.when == CRASHED:
            self._outcome[report.nodeid] = "crashed its worker"
        elif report.failed:
            self._outcome.setdefault(report.nodeid, "error")
        elif report.skipped:
            self._outcome.setdefault(report.nodeid, "skipped")
        if report.when not in ("teardown", CRASHED):
            return
        self.done += 1
        case = report.nodeid.rsplit("[", 1)[-1].rstrip("]")
        outcome = self._outcome.pop(report.nodeid, "passed")
        took = now - self._started.pop(report.nodeid, now)
        self._took.append(took)
        total = max(self.total, self.done)
        running = [now - started for started in self._started.values()]
        queued = max(total - self.done - len(running), 0)
        eta = remaining_time(sum(self._took) / len(self._took), running, queued, self.workers)
        self.write(case_line(self.done, total, case, outcome, took, now - self.start, eta))


def start_case_clock(config: pytest.Config) -> None:
    """Report each benchmark case on the controller's terminal, after the run header
    (robustprune.plugin.header; called as the session starts)."""
    if (
        hasattr(config, "workerinput")
        or config.get_verbosity() < -1
        or config.pluginmanager.has_plugin("robustprune-case-clock")
    ):
        return
    if config.pluginmanager.get_plugin("terminalreporter") is None:
        return

    def write(line: str) -> None:
        echo_line(config, f"[robustprune] {line}")

    from robustprune.plugin.controller import worker_count
    from robustprune.plugin.header import RunHeader, header_lines
    from robustprune.plugin.terminal import echo_line

    if config.get_verbosity() < 0:  # -q hides pytest's header, and ours with it
        for line in header_lines(config):
            echo_line(config, line)
    else:
        config.pluginmanager.register(RunHeader(config), "robustprune-run-header")
    clock = CaseClock(write, workers=worker_count(config))
    config.pluginmanager.register(clock, "robustprune-case-clock")
