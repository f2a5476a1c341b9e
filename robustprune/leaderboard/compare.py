"""Comparing a leaderboard with a baseline, and regression gates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from robustprune.leaderboard.schema import (
    LOWER_IS_BETTER,
    PERCENT_METRICS,
    SUMMARY_METRICS,
    Key,
    canonical_metric,
    record_key,
)


@dataclass(frozen=True)
class Gate:
    """Fail when ``metric`` regresses by more than ``tolerance`` (same unit as the metric)."""

    metric: str
    tolerance: float


def parse_gate(text: str) -> Gate:
    """Parse ``METRIC:TOL`` (e.g. ``prune_potential:0.05``); raise ValueError naming the problem."""
    metric, separator, tolerance = text.rpartition(":")
    if not separator or not metric:
        raise ValueError(f"gate {text!r} is not METRIC:TOL (e.g. prune_potential:0.05)")
    try:
        value = float(tolerance)
    except ValueError:
        raise ValueError(f"gate {text!r}: tolerance {tolerance!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"gate {text!r}: tolerance must be a finite number >= 0, got {value}")
    return Gate(canonical_metric(metric), value)


@dataclass(frozen=True)
class Change:
    """One metric of one case that differs between baseline and current (means only)."""

    key: Key
    metric: str
    baseline: float
    current: float

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def worsening(self) -> float:
        """How much worse current is than baseline (negative for an improvement)."""
        return self.delta if self.metric in LOWER_IS_BETTER else -self.delta

    @property
    def regression(self) -> bool:
        return self.worsening > 0


@dataclass
class Comparison:
    """Differences between two leaderboards, matched by key."""

    changes: list[Change] = field(default_factory=list)
    missing: list[Key] = field(default_factory=list)
    """Keys in the baseline that the current run did not produce (e.g. deselected cases)."""
    new: list[Key] = field(default_factory=list)
    """Keys in the current run that the baseline lacks."""
    unchanged: int = 0
    """Number of (key, metric) pairs compared and found equal."""

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regression]

    @property
    def improvements(self) -> list[Change]:
        return [change for change in self.changes if not change.regression]

    def failures(self, gates: Sequence[Gate]) -> list[tuple[Gate, Change]]:
        """Each regression worse than a gate's tolerance on that gate's metric."""
        return [
            (gate, change)
            for gate in gates
            for change in self.regressions
            if change.metric == gate.metric and change.worsening > gate.tolerance + 1e-12
        ]


def compare(
    baseline: dict[str, Any], current: dict[str, Any], metrics: Sequence[str] = SUMMARY_METRICS
) -> Comparison:
    """Compare the summary means of matching records; a null on either side is skipped."""
    old = {record_key(record): record for record in baseline["records"]}
    now = {record_key(record): record for record in current["records"]}
    comparison = Comparison(
        missing=sorted(old.keys() - now.keys()), new=sorted(now.keys() - old.keys())
    )
    for key in sorted(old.keys() & now.keys()):
        for metric in metrics:
            before, after = old[key]["summary"].get(metric), now[key]["summary"].get(metric)
            if before is None or after is None:
                continue
            if before["mean"] == after["mean"]:
                comparison.unchanged += 1
            else:
                comparison.changes.append(Change(key, metric, before["mean"], after["mean"]))
    return comparison


def _value(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric in PERCENT_METRICS else f"{value:.4f}"


def _delta(metric: str, value: float) -> str:
    return f"{100 * value:+.1f} pp" if metric in PERCENT_METRICS else f"{value:+.4f}"


def render_comparison(comparison: Comparison, gates: Sequence[Gate] = ()) -> str:
    """A table of regressions then improvements, plus missing/new cases and failed gates."""
    failed = {id(change) for _, change in comparison.failures(gates)}
    ordered = sorted(comparison.regressions, key=lambda c: -c.worsening) + sorted(
        comparison.improvements, key=lambda c: c.worsening
    )
    rows = [
        [
            "/".join(change.key),
            change.metric,
            _value(change.metric, change.baseline),
            _value(change.metric, change.current),
            _delta(change.metric, change.delta),
            ("REGRESSION" if change.regression else "improvement")
            + (" (gate failed)" if id(change) in failed else ""),
        ]
        for change in ordered
    ]
    lines = [
        f"{len(comparison.regressions)} regression(s), {len(comparison.improvements)} "
        f"improvement(s), {comparison.unchanged} unchanged metric(s)"
    ]
    if rows:
        headers = ["case", "metric", "baseline", "current", "delta", "status"]
        lines.append(tabulate(rows, headers, tablefmt="simple", disable_numparse=True))
    if comparison.missing:
        lines.append("not in this run: " + ", ".join("/".join(key) for key in comparison.missing))
    if comparison.new:
        lines.append("not in the baseline: " + ", ".join("/".join(key) for key in comparison.new))
    for gate, change in comparison.failures(gates):
        lines.append(
            f"gate {gate.metric}:{gate.tolerance:g} failed for {'/'.join(change.key)}: "
            f"{_value(change.metric, change.baseline)} -> {_value(change.metric, change.current)}"
            f" ({_delta(change.metric, change.delta)})"
        )
    return "\n".join(lines) + "\n"
