"""What the plugin writes on the terminal: lines during a run (:func:`echo_line`), and at the
end the leaderboard tables, the comparison and the gate verdict."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from robustprune.leaderboard import Comparison, Gate, render_comparison, render_text


@dataclass
class Outcome:
    """The session-finish results the terminal summary reports."""

    leaderboard: dict[str, Any] | None = None
    comparison: Comparison | None = None
    baseline: Path | None = None
    gates: tuple[Gate, ...] = ()
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duplicates: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)

    @property
    def failed_gates(self) -> int:
        return len(self.comparison.gate_failures(self.gates)) if self.comparison else 0


outcome_key = pytest.StashKey[Outcome]()


def echo_line(config: pytest.Config, line: str, *, in_test: bool = False) -> None:
    """Write ``line`` on the terminal at once, on a line of its own (after pytest's progress
    dots): the one place the plugin writes to pytest's terminal writer during a run.

    ``in_test``: called from a running test (a fixture), whose output pytest captures; the
    capture is lifted for the line. Other callers (hooks, the progress-file tail's thread) must
    leave pytest's capture alone.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = config.pluginmanager.get_plugin("capturemanager") if in_test else None
    lifted = capture.global_and_fixture_disabled() if capture is not None else None
    with lifted or contextlib.nullcontext():
        if reporter._tw.width_of_current_line:  # after the progress dots
            reporter._tw.line()
        reporter.write_line(line)
        reporter._tw.flush()  # visible at once even when stdout is a file or a pipe


def write_summary(reporter: Any, outcome: Outcome) -> None:
    """Print the leaderboard (nothing at all when no records were collected)."""
    if outcome.leaderboard is None and not outcome.errors and not outcome.notes:
        return
    if outcome.leaderboard is not None:
        count = len(outcome.leaderboard["records"])
        reporter.write_sep("=", f"robustprune leaderboard ({count} record(s))")
        reporter.write(render_text(outcome.leaderboard))
        for key, first, later in outcome.duplicates:
            reporter.write_line(
                f"warning: {'/'.join(key)} recorded by {first} and {later}; kept the latter",
                yellow=True,
            )
        for path in outcome.written:
            reporter.write_line(f"wrote {path}")
    if outcome.comparison is not None:
        reporter.write_sep("-", f"robustprune comparison with {outcome.baseline}")
        reporter.write(render_comparison(outcome.comparison, outcome.gates))
        if outcome.failed_gates:
            reporter.write_line(
                f"robustprune: {outcome.failed_gates} regression gate(s) failed; "
                "the session fails (exit status 1)",
                red=True,
                bold=True,
            )
    for message in outcome.notes:
        reporter.write_line(f"robustprune: {message}")
    for message in outcome.errors:
        reporter.write_line(f"robustprune: {message}", red=True, bold=True)
