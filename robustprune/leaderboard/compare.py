"""Comparing a leaderboard with a baseline, and regression gates.

One implementation serves ``robustprune compare``, the plugin's session gate
(``--rp-compare-fail``) and the per-case check of the benchmark tests, so a metric name and a
tolerance mean the same everywhere. A change counts as a regression (or an improvement) only
when it exceeds the measured uncertainty of the two values; a gate fails only on a regression
that also exceeds its tolerance. See docs/records.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from robustprune.leaderboard.schema import (
    ALL_METRICS,
    GRID_METRICS,
    LOWER_IS_BETTER,
    PERCENT_METRICS,
    Key,
    canonical_metric,
    record_key,
)

_EPSILON = 1e-12


class GateError(ValueError):
    """A gate that cannot be applied (e.g. its tolerance is finer than the metric can resolve)."""


@dataclass(frozen=True)
class Gate:
    """Fail when ``metric`` regresses by more than ``tolerance`` (absolute, in the metric's unit:
    fractions for the percent metrics) and by more than the measured uncertainty."""

    metric: str
    tolerance: float
    text: str = field(default="", compare=False)
    """The gate as written, e.g. ``prune_potential:5%``."""

    def __str__(self) -> str:
        return self.text or f"{self.metric}:{self.tolerance:g}"


def parse_gate(text: str) -> Gate:
    """Parse ``METRIC:TOL``: ``prune_potential:0.05`` or ``prune_potential:5%`` (5 percentage
    points, the unit the tables print); raise ValueError naming the problem."""
    metric, separator, tolerance = text.rpartition(":")
    if not separator or not metric:
        raise ValueError(
            f"gate {text!r} is not METRIC:TOL (e.g. prune_potential:0.05 or prune_potential:5%)"
        )
    name = canonical_metric(metric)
    percent = tolerance.strip().endswith("%")
    number = tolerance.strip().removesuffix("%")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(
            f"gate {text!r}: tolerance {tolerance!r} is not a number or a percentage "
            "(e.g. 0.05 or 5%)"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"gate {text!r}: tolerance must be a finite number >= 0, got {tolerance}")
    if percent:
        if name not in PERCENT_METRICS:
            raise ValueError(
                f"gate {text!r}: {name} is not a percentage metric, so a tolerance in % has no "
                f"meaning; give an absolute tolerance, e.g. {metric}:0.01 (percentage metrics: "
                f"{', '.join(sorted(PERCENT_METRICS))})"
            )
        value /= 100.0
    return Gate(name, value, text)


def _half_width(stat: dict[str, Any]) -> float:
    """Half the 95 % interval when there is one, else the std over seeds (schema 1)."""
    ci = stat.get("ci")
    if ci and len(ci) == 2:
        return (float(ci[1]) - float(ci[0])) / 2.0
    return float(stat.get("std") or 0.0)


@dataclass(frozen=True)
class Change:
    """One metric of one case that differs between baseline and current."""

    key: Key
    metric: str
    baseline: float
    current: float
    baseline_spread: float = 0.0
    """Half-width of the baseline's 95 % interval (std over seeds when it has none)."""
    current_spread: float = 0.0
    """Half-width of the current value's 95 % interval (std over seeds when it has none)."""

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def uncertainty(self) -> float:
        """The measured uncertainty of the difference: the two half-widths added in quadrature."""
        return math.hypot(self.baseline_spread, self.current_spread)

    @property
    def worsening(self) -> float:
        """How much worse current is than baseline (negative for an improvement)."""
        return self.delta if self.metric in LOWER_IS_BETTER else -self.delta

    @property
    def significant(self) -> bool:
        """True when the change exceeds the measured uncertainty."""
        return abs(self.delta) > self.uncertainty + _EPSILON

    @property
    def regression(self) -> bool:
        """Worse, by more than the measured uncertainty."""
        return self.worsening > 0 and self.significant

    @property
    def improvement(self) -> bool:
        """Better, by more than the measured uncertainty."""
        return self.worsening < 0 and self.significant

    @property
    def status(self) -> str:
        if self.regression:
            return "REGRESSION"
        return "improvement" if self.improvement else "within uncertainty"


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
    common: int = 0
    """Number of cases in both leaderboards."""

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regression]

    @property
    def improvements(self) -> list[Change]:
        return [change for change in self.changes if change.improvement]

    @property
    def within_uncertainty(self) -> list[Change]:
        return [change for change in self.changes if not change.significant]

    def failures(self, gates: Sequence[Gate]) -> list[tuple[Gate, Change]]:
        """Each regression (beyond the uncertainty) also worse than a gate's tolerance."""
        return [
            (gate, change)
            for gate in gates
            for change in self.regressions
            if change.metric == gate.metric and change.worsening > gate.tolerance + _EPSILON
        ]

    def gate_failures(self, gates: Sequence[Gate]) -> list[str]:
        """Every reason the gates fail, as sentences; empty when they pass (or there are none)."""
        if not gates:
            return []
        if self.common == 0:
            return [
                f"gate {', '.join(map(str, gates))} found no case in common with the baseline "
                f"(baseline: {_keys(self.missing)}; this run: {_keys(self.new)}); nothing was "
                "compared, so the gate cannot pass"
            ]
        return [_failure_sentence(gate, change) for gate, change in self.failures(gates)]


def _keys(keys: Sequence[Key]) -> str:
    if not keys:
        return "no cases"
    shown = ", ".join("/".join(key) for key in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def _failure_sentence(gate: Gate, change: Change) -> str:
    metric = change.metric
    return (
        f"gate {gate} failed for {'/'.join(change.key)}: {_value(metric, change.baseline)} -> "
        f"{_value(metric, change.current)} ({_delta(metric, change.delta)}), worse by more than "
        f"the tolerance {_amount(metric, gate.tolerance)} and the uncertainty "
        f"±{_amount(metric, change.uncertainty)}"
    )


def compare_records(
    baseline: dict[str, Any], current: dict[str, Any], metrics: Sequence[str] = ALL_METRICS
) -> tuple[list[Change], int]:
    """The changed summary metrics of two records of one case, and how many were unchanged.

    A metric null or absent on either side is skipped.
    """
    changes, unchanged = [], 0
    key = record_key(current)
    for metric in metrics:
        before, after = baseline["summary"].get(metric), current["summary"].get(metric)
        if before is None or after is None:
            continue
        if before["mean"] == after["mean"]:
            unchanged += 1
        else:
            changes.append(
                Change(
                    key,
                    metric,
                    before["mean"],
                    after["mean"],
                    _half_width(before),
                    _half_width(after),
                )  # fmt: skip
            )
    return changes, unchanged


def compare(
    baseline: dict[str, Any], current: dict[str, Any], metrics: Sequence[str] = ALL_METRICS
) -> Comparison:
    """Compare the summaries of matching records of two leaderboards."""
    old = {record_key(record): record for record in baseline["records"]}
    now = {record_key(record): record for record in current["records"]}
    common = sorted(old.keys() & now.keys())
    comparison = Comparison(
        missing=sorted(old.keys() - now.keys()), new=sorted(now.keys() - old.keys()),
        common=len(common),
    )  # fmt: skip
    for key in common:
        changes, unchanged = compare_records(old[key], now[key], metrics)
        comparison.changes += changes
        comparison.unchanged += unchanged
    return comparison


def case_gate_failures(
    baseline: dict[str, Any] | None, record: dict[str, Any], gates: Sequence[Gate]
) -> list[str]:
    """The gates one case fails against its baseline record (none without a baseline record)."""
    if baseline is None or not gates:
        return []
    comparison = Comparison(common=1)
    comparison.changes, comparison.unchanged = compare_records(baseline, record)
    return comparison.gate_failures(gates)


def grid_step(record: dict[str, Any]) -> tuple[float, float, float] | None:
    """``(step, low, high)``: the smallest spacing between consecutive evaluated prune ratios
    (seed means, the parent at ratio 0 included) and the two ratios it lies between."""
    curves = [seed for seed in record.get("curve") or [] if seed]
    if not curves or len({len(seed) for seed in curves}) != 1:
        return None
    ratios = [0.0] + sorted(
        sum(point["prune_ratio"] for point in column) / len(column)
        for column in zip(*curves, strict=True)
    )
    steps = [(b - a, a, b) for a, b in zip(ratios, ratios[1:], strict=False) if b > a]
    return min(steps) if steps else None


def check_gates(gates: Sequence[Gate], baseline: dict[str, Any]) -> None:
    """Refuse (GateError) a gate on a grid metric whose tolerance is finer than the grid step.

    Prune potential only takes evaluated prune ratios: any change moves it by at least one
    grid step, so a smaller tolerance would act as tolerance 0 and fail on the smallest change.
    """
    steps = [
        (step, record)
        for record in baseline["records"]
        if (step := grid_step(record)) is not None
    ]  # fmt: skip
    if not steps:
        return
    (step, low, high), record = min(steps, key=lambda item: item[0][0])
    for gate in gates:
        if gate.metric in GRID_METRICS and gate.tolerance + _EPSILON < step:
            raise GateError(
                f"gate {gate}: tolerance {_amount(gate.metric, gate.tolerance)} is finer than the "
                f"prune-ratio grid step {_amount(gate.metric, step)} ({'/'.join(record_key(record))}"
                f" evaluates ratios {low:.3f} and {high:.3f} next to each other); {gate.metric} only "
                "takes grid values, so every change exceeds such a tolerance; use a tolerance of at "
                f"least {step:.3f} ({100 * step:.1f}%)"
            )


def _value(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric in PERCENT_METRICS else f"{value:.4f}"


def _delta(metric: str, value: float) -> str:
    return f"{100 * value:+.1f} pp" if metric in PERCENT_METRICS else f"{value:+.4f}"


def _amount(metric: str, value: float) -> str:
    return f"{100 * value:.1f} pp" if metric in PERCENT_METRICS else f"{value:.4f}"


def render_comparison(comparison: Comparison, gates: Sequence[Gate] = ()) -> str:
    """A table of regressions, improvements and changes within uncertainty, then missing/new
    cases and failed gates."""
    failed = {id(change) for _, change in comparison.failures(gates)}
    order = {"REGRESSION": 0, "improvement": 1, "within uncertainty": 2}
    ordered = sorted(comparison.changes, key=lambda c: (order[c.status], -abs(c.worsening)))
    rows = [
        [
            "/".join(change.key),
            change.metric,
            _value(change.metric, change.baseline),
            _value(change.metric, change.current),
            _delta(change.metric, change.delta),
            "±" + _amount(change.metric, change.uncertainty),
            change.status + (" (gate failed)" if id(change) in failed else ""),
        ]
        for change in ordered
    ]
    lines = [
        f"{len(comparison.regressions)} regression(s), {len(comparison.improvements)} "
        f"improvement(s), {len(comparison.within_uncertainty)} change(s) within uncertainty, "
        f"{comparison.unchanged} unchanged metric(s) over {comparison.common} common case(s)"
    ]
    if rows:
        headers = ["case", "metric", "baseline", "current", "delta", "uncertainty", "status"]
        lines.append(tabulate(rows, headers, tablefmt="simple", disable_numparse=True))
        lines.append(
            "uncertainty: the half-widths of the two 95 % intervals added in quadrature (the std "
            "over seeds where a record has no interval); a change within it is not a regression"
        )
    if comparison.missing:
        lines.append("not in this run: " + ", ".join("/".join(key) for key in comparison.missing))
    if comparison.new:
        lines.append("not in the baseline: " + ", ".join("/".join(key) for key in comparison.new))
    lines += comparison.gate_failures(gates)
    return "\n".join(lines) + "\n"
