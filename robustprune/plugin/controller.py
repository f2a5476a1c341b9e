"""The controller side of the plugin: collect records, then leaderboard, files, comparison, gates.

Registered only in the process that owns the session (the xdist controller with ``-n``, the
only process without it); workers just run cases and attach records to their reports.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest

from robustprune.history import HistoryError, save_run
from robustprune.leaderboard import (
    GateError,
    LeaderboardError,
    check_gates,
    compare,
    environment_info,
    load_leaderboard,
    suite_differences,
    validate_leaderboard,
    write_leaderboard,
)
from robustprune.plugin.options import RunOptions
from robustprune.plugin.records import RecordCollector, devices
from robustprune.plugin.terminal import Outcome, write_summary


def load_report_writer() -> Any:
    """``robustprune.report.write_report``, or a UsageError saying why it is unavailable."""
    try:
        module = importlib.import_module("robustprune.report")
        return module.write_report
    except (ImportError, AttributeError) as error:
        raise pytest.UsageError(
            f"--rp-report needs robustprune.report.write_report, which cannot be imported: {error}"
        ) from None


def check_report_dir(report: Path, leaderboard: Path | None) -> None:
    """A UsageError, before anything runs, when ``--rp-report`` could not be written at the end."""
    if leaderboard is not None and report.resolve() == leaderboard.resolve():
        raise pytest.UsageError(
            f"--rp-report and --rp-leaderboard are the same directory {report}; the report only "
            f"writes into a directory of its own, e.g. --rp-report {report / 'report'}"
        )
    if leaderboard is not None and report.resolve() in leaderboard.resolve().parents:
        raise pytest.UsageError(
            f"--rp-leaderboard {leaderboard} is inside --rp-report {report}; the report only "
            f"writes into a directory of its own, e.g. --rp-report {leaderboard / 'report'}"
        )
    try:
        from robustprune.report.outdir import ReportDirectoryError, earlier_report_files
    except ImportError:
        return  # load_report_writer has said why
    try:
        earlier_report_files(report)
    except ReportDirectoryError as error:
        raise pytest.UsageError(f"--rp-report: {error}") from None


def check_leaderboard_dir(leaderboard: Path, baseline: Path | None) -> None:
    """A UsageError, before anything runs, when ``--rp-leaderboard`` could not be written at
    the end or would overwrite the ``--rp-compare`` baseline."""
    if leaderboard.exists() and not leaderboard.is_dir():
        raise pytest.UsageError(
            f"--rp-leaderboard {leaderboard} is a file; it names the directory that "
            "leaderboard.json, leaderboard.md and leaderboard.csv are written into, e.g. "
            f"--rp-leaderboard {leaderboard.with_suffix('')}-run"
        )
    if baseline is not None and (leaderboard / "leaderboard.json").resolve() == baseline.resolve():
        raise pytest.UsageError(
            f"--rp-leaderboard {leaderboard} would overwrite the baseline {baseline} that "
            "--rp-compare reads; write this run's leaderboard elsewhere, e.g. "
            f"--rp-leaderboard {leaderboard / 'new'}"
        )
    existing = next(path for path in (leaderboard, *leaderboard.parents) if path.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):  # created only when written
        why = "is a file" if not existing.is_dir() else "is not writable"
        raise pytest.UsageError(
            f"--rp-leaderboard: the directory {leaderboard} cannot be created or written: "
            f"{existing} {why}; choose another"
        )


def check_history_dir(history: Path) -> None:
    """A UsageError, before anything runs, when ``--rp-autosave`` could not store the run."""
    try:
        history.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise pytest.UsageError(
            f"--rp-autosave: the run history {history} cannot be created "
            f"({error.strerror or error}); choose another with --rp-history DIR"
        ) from None
    if not os.access(history, os.W_OK):
        raise pytest.UsageError(
            f"--rp-autosave: the run history {history} is not writable; "
            "choose another with --rp-history DIR"
        )


def load_baseline(path: Path) -> dict[str, Any]:
    """The ``--rp-compare`` baseline, or a UsageError naming the file and the problem."""
    try:
        return load_leaderboard(path)
    except LeaderboardError as error:
        raise pytest.UsageError(f"--rp-compare: {error}") from None


def worker_count(config: pytest.Config) -> int:
    """Processes running cases: the number of xdist workers, or 1 without distribution."""
    if getattr(config.option, "dist", "no") == "no":
        return 1
    return len(getattr(config.option, "tx", None) or []) or 1


class Controller:
    """Per-session plugin object on the controlling process."""

    def __init__(self, config: pytest.Config, options: RunOptions) -> None:
        self.config = config
        self.options = options
        self.collector = RecordCollector()
        self.baseline = load_baseline(options.compare) if options.compare else None
        if self.baseline is not None:
            try:
                check_gates(options.compare_fail, self.baseline)
            except GateError as error:
                raise pytest.UsageError(f"--rp-compare-fail: {error}") from None
        self.write_report = load_report_writer() if options.report else None
        if options.report is not None:
            check_report_dir(options.report, options.leaderboard)
        if options.leaderboard is not None:
            check_leaderboard_dir(options.leaderboard, options.compare)
        self.outcome = Outcome(baseline=options.compare, gates=options.compare_fail)
        if options.compare_note:
            self.outcome.notes.append(options.compare_note)
        if options.autosave and options.history is not None:
            check_history_dir(options.history)

    def check_baseline_settings(self, suite: Any) -> None:
        """Before the run: a baseline made with other suite settings (delta, seeds, shifts,
        grid, recipes) or of another suite is a usage error with a gate, a warning without."""
        if self.baseline is None:
            return
        problems = suite_differences(self.baseline, suite, suite.seeds)
        if not problems:
            return
        message = (
            f"--rp-compare: the baseline {self.options.compare} does not match suite "
            f"{suite.name!r} as this run uses it: {'; '.join(problems)}; its numbers are not "
            "comparable with this run's"
        )
        if self.options.compare_fail:
            raise pytest.UsageError(
                f"{message}, so the gate could only fail; give a baseline made with these "
                "settings (or drop --rp-compare-fail to only see the comparison)"
            )
        from robustprune.plugin.terminal import echo_line

        echo_line(self.config, f"robustprune: warning: {message}; such cases are not compared")
        self.outcome.notes.append(f"{message}; such cases were not compared")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for record in self.collector.add_report(report):
            self.config.hook.pytest_robustprune_record(record=record)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        outcome = self.outcome
        outcome.duplicates = list(self.collector.duplicates)
        if len(self.collector):
            self._finish_leaderboard(outcome)
        elif self.baseline is not None and self.options.compare_fail:
            outcome.errors.append(
                "no records were collected, so the gate found no case in common with the "
                f"baseline {self.options.compare}; it fails rather than passing on nothing"
            )
        elif self.baseline is not None:
            outcome.notes.append("no records were collected; nothing compared with the baseline")
        if outcome.failed_gates or outcome.errors:
            if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _finish_leaderboard(self, outcome: Outcome) -> None:
        records = self.collector.records()
        environment = environment_info(device=devices(records), workers=worker_count(self.config))
        leaderboard = self.collector.leaderboard(environment)
        self.config.hook.pytest_robustprune_leaderboard(leaderboard=leaderboard)
        try:
            validate_leaderboard(leaderboard)
        except LeaderboardError as error:
            outcome.errors.append(f"the leaderboard is invalid, nothing written: {error}")
            return
        outcome.leaderboard = leaderboard
        if self.options.leaderboard is not None:
            try:
                outcome.written += write_leaderboard(leaderboard, self.options.leaderboard)
            except OSError as error:
                outcome.errors.append(f"cannot write the leaderboard: {error}")
        if self.write_report is not None and self.options.report is not None:
            try:
                index = self.write_report(leaderboard, self.options.report)
                outcome.written.append(index if isinstance(index, Path) else self.options.report)
            except Exception as error:  # a broken figure must not hide the leaderboard
                outcome.errors.append(
                    f"cannot write the report to {self.options.report}: {error!r}"
                )
        if self.options.autosave and self.options.history is not None:
            try:
                run = save_run(
                    leaderboard,
                    self.options.history,
                    Path(self.config.rootpath),
                    [str(arg) for arg in self.config.invocation_params.args],
                )
                outcome.written.append(run.path)
            except (OSError, HistoryError) as error:
                outcome.errors.append(f"cannot store the run in {self.options.history}: {error}")
        if self.baseline is not None:
            outcome.comparison = compare(self.baseline, leaderboard)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write_summary(terminalreporter, self.outcome)
