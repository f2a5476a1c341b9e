"""Comparing a leaderboard with a baseline, and regression gates.

One implementation serves ``robustprune compare``, the plugin's session gate
(``--rp-compare-fail``) and the per-case check of the benchmark tests, so a metric name and a
tolerance mean the same everywhere.

Every metric knows which direction is better; a change is measured as its *worsening* (positive
= worse) with one-sided 95 % bounds. A gate fails when the lower bound of the worsening exceeds
its tolerance. The bounds come from one bootstrap of the difference over per-example outcomes
when both records carry them (``robustprune.leaderboard.resample``: paired when the parents are
the same, the test set counted once), else from the baseline's own interval alone (seed level:
the noise of a difference of two such runs, sqrt(2) x the baseline's standard error). Neither
depends on how far the current run fell, so a larger regression never passes where a smaller
one fails. See docs/records.md and docs/statistics.md.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tabulate import tabulate

from robustprune.distributions import NOMINAL
from robustprune.leaderboard.outcomes import case_outcomes
from robustprune.leaderboard.resample import (
    GATE_CONFIDENCE,
    GATE_RESAMPLES,
    bounds,
    comparable,
    mean_resamples,
    worsening_resamples,
)
from robustprune.leaderboard.schema import (
    ALL_METRICS,
    LOWER_IS_BETTER,
    METRIC_GROUPS,
    PERCENT_METRICS,
    RUN_DEPENDENT_SUMMARY,
    Key,
    canonical_metric,
    record_key,
)
from robustprune.machine import machine_class_note

_EPSILON = 1e-12
_Z = 1.6448536269514722
"""The standard normal's 95th percentile: one-sided 95 % bounds at seed level."""
TIMING_STATUS = "timing, not judged"
ALL_ARCHS = "*"
"""The arch of a per-method aggregate's key: the mean over the architectures both runs share."""


class GateError(ValueError):
    """A gate that cannot be applied (e.g. on a metric no baseline record carries)."""


@dataclass(frozen=True)
class Gate:
    """Fail when ``metric`` is worse than the baseline by more than ``tolerance`` (absolute, in
    the metric's unit: fractions for the percent metrics) with 95 % confidence: the lower
    bound of the worsening exceeds the tolerance. A group (``prune_potential``) gates each of
    its metrics."""

    metric: str
    tolerance: float
    text: str = field(default="", compare=False)
    """The gate as written, e.g. ``prune_potential:5%``."""

    @property
    def metrics(self) -> tuple[str, ...]:
        """The summary metrics this gate checks."""
        return METRIC_GROUPS.get(self.metric, (self.metric,))

    def __str__(self) -> str:
        return self.text or f"{self.metric}:{self.tolerance:g}"


def gate_argument(text: str) -> Gate:
    """:func:`parse_gate` as an argparse ``type``: ``compare --fail`` and ``--rp-compare-fail``."""
    try:
        return parse_gate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
        if not all(metric in PERCENT_METRICS for metric in METRIC_GROUPS.get(name, (name,))):
            raise ValueError(
                f"gate {text!r}: {name} is not a percentage metric, so a tolerance in % has no "
                f"meaning; give an absolute tolerance, e.g. {metric}:0.01 (percentage metrics: "
                f"{', '.join(sorted(PERCENT_METRICS))})"
            )
        value /= 100.0
    return Gate(name, value, text)


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (every metric but gap and excess slope)."""
    return metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Change:
    """One metric of one case (or of a method over architectures) against the baseline.

    ``worsening`` is how much worse current is (positive = worse, in the metric's unit);
    ``lower`` and ``upper`` are its one-sided 95 % bounds.
    """

    key: Key
    metric: str
    baseline: float
    current: float
    worsening: float
    lower: float
    upper: float
    method: str = "seed level"
    """How the bounds were computed: ``paired`` (shared parents, per-example outcomes),
    ``per example`` (other parents) or ``seed level`` (the baseline's interval alone)."""
    resamples: Any = field(default=None, compare=False, repr=False)
    """The resampled worsening (numpy array) behind the bounds, when per-example."""

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def judged(self) -> bool:
        """Whether the comparison calls this change a regression or an improvement. Clock
        metrics (``RUN_DEPENDENT_SUMMARY``: the speedup) are not: their bounds come from the
        spread between seeds of one run, while the load on the machine moves every timing of a
        run together (a neutral rerun under load measured 1.59 -> 1.12). They are shown, and
        fail only a gate that names them."""
        return self.metric not in RUN_DEPENDENT_SUMMARY

    @property
    def regression(self) -> bool:
        """Worse with 95 % confidence: the lower bound of the worsening is above 0."""
        return self.judged and self.lower > _EPSILON

    @property
    def improvement(self) -> bool:
        """Better with 95 % confidence: the upper bound of the worsening is below 0."""
        return self.judged and self.upper < -_EPSILON

    @property
    def significant(self) -> bool:
        return self.regression or self.improvement

    @property
    def unchanged(self) -> bool:
        """Nothing moved: the same value and no worsening (nor a significant one)."""
        return self.delta == 0 and self.worsening == 0 and not self.significant

    @property
    def status(self) -> str:
        if not self.judged:
            return TIMING_STATUS
        if self.regression:
            return "REGRESSION"
        return "improvement" if self.improvement else "within uncertainty"


@dataclass
class Comparison:
    """Differences between two leaderboards, matched by key."""

    changes: list[Change] = field(default_factory=list)
    """Every compared metric that moved, per case and per method over architectures (arch
    ``*``); the unchanged ones are only counted."""
    missing: list[Key] = field(default_factory=list)
    """Keys in the baseline that the current run did not produce (e.g. deselected cases)."""
    new: list[Key] = field(default_factory=list)
    """Keys in the current run that the baseline lacks."""
    unchanged: int = 0
    """Number of (key, metric) pairs compared and found equal."""
    common: int = 0
    """Number of cases in both leaderboards."""
    machine_note: str | None = None
    """Set when the baseline's machine class differs or is unknown (robustprune.machine)."""
    mismatched: dict[Key, list[str]] = field(default_factory=dict)
    """Cases made with other settings that change the numbers (delta, grid, shifts, recipes,
    seeds): not compared, and a gate fails on them."""
    compared: set[str] = field(default_factory=set)
    """Metrics compared in at least one case (a gate on a metric absent here checked nothing)."""
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regression]

    @property
    def improvements(self) -> list[Change]:
        return [change for change in self.changes if change.improvement]

    @property
    def within_uncertainty(self) -> list[Change]:
        return [change for change in self.changes if change.judged and not change.significant]

    @property
    def timings(self) -> list[Change]:
        """Clock metrics that moved: shown, not judged (``Change.judged``)."""
        return [change for change in self.changes if not change.judged]

    def failures(self, gates: Sequence[Gate]) -> list[tuple[Gate, Change]]:
        """Each change whose worsening's lower bound exceeds a gate's tolerance."""
        return [
            (gate, change)
            for gate in gates
            for change in self.changes
            if change.metric in gate.metrics and change.lower > gate.tolerance + _EPSILON
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
        sentences = []
        by_reason: dict[str, list[Key]] = {}
        for key, reasons in self.mismatched.items():
            by_reason.setdefault("; ".join(reasons), []).append(key)
        for reasons, keys in by_reason.items():
            sentences.append(
                f"gate {', '.join(map(str, gates))} cannot pass on {_keys(keys)}: made with "
                f"other settings than the baseline ({reasons}), so the numbers are not "
                "comparable; compare with a baseline made with these settings"
            )
        for gate in gates:
            absent = [metric for metric in gate.metrics if metric not in self.compared]
            if absent and len(self.mismatched) < self.common:
                sentences.append(
                    f"gate {gate} compared nothing for {', '.join(absent)}: no common case has "
                    "it in both leaderboards (a baseline made before robustprune recorded it, "
                    "or a run without shifts); regenerate the baseline"
                )
        return sentences + [_failure_sentence(g, c) for g, c in self.failures(gates)]


def _keys(keys: Sequence[Key]) -> str:
    if not keys:
        return "no cases"
    shown = ", ".join("/".join(key) for key in keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def _failure_sentence(gate: Gate, change: Change) -> str:
    metric = change.metric
    return (
        f"gate {gate} failed for {'/'.join(change.key)} ({metric}): "
        f"{_value(metric, change.baseline)} -> {_value(metric, change.current)}, worse by "
        f"{_amount(metric, change.worsening)}, at least {_amount(metric, change.lower)} with 95 % "
        f"confidence ({change.method}), more than the tolerance {_amount(metric, gate.tolerance)}"
    )


def _standard_error(stat: dict[str, Any], seeds: int) -> float:
    """The standard error of a record's mean: its 95 % interval's half-width / 1.96 when it has
    one, else the std over seeds / sqrt(seeds) (schema 1)."""
    ci = stat.get("ci")
    if ci and len(ci) == 2:
        return (float(ci[1]) - float(ci[0])) / 2.0 / 1.959964
    return float(stat.get("std") or 0.0) / math.sqrt(max(seeds, 1))


def _seed_level(key: Key, metric: str, before: dict, after: dict, seeds: int) -> Change:
    """Bounds from the baseline alone: a rerun's mean differs from the baseline's by noise of
    standard error sqrt(2) x the baseline's, whatever the current run's own spread."""
    sign = 1.0 if higher_is_better(metric) else -1.0
    worsening = sign * (before["mean"] - after["mean"])
    margin = _Z * math.sqrt(2.0) * _standard_error(before, seeds)
    return Change(
        key, metric, before["mean"], after["mean"], worsening, worsening - margin,
        worsening + margin,
    )  # fmt: skip


def _settings(record: dict[str, Any]) -> dict[str, Any]:
    """The suite settings a record's numbers depend on."""
    curve = record.get("curve") or [[]]
    return {
        "delta": record.get("delta"),
        "seeds": list(record.get("seeds") or []),
        "shifts": sorted(record.get("distributions") or []),
        "grid": [round(float(point["target_ratio"]), 6) for point in (curve[0] if curve else [])],
        **{name: value for name, value in (record.get("settings") or {}).items()},
        # the pruner class and its arguments (records before suite parameters lack them)
        **({"pruner": record["pruner"]} if "pruner" in record else {}),
    }


def settings_differences(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """How two records' suite settings that change the numbers differ (delta, seeds, shifts,
    grid, and recipes, mode and the pruner's class and arguments where records carry them), as
    ``"delta 0.03 -> 0.6"``."""
    old, now = _settings(baseline), _settings(current)
    return [
        f"{name} {old[name]} -> {now[name]}"
        for name in old
        if name in now and old[name] != now[name]
    ]


def _arch_stream(arch: str) -> int:
    return int(hashlib.sha256(arch.encode()).hexdigest()[:8], 16)


def _per_example(
    key: Key, baseline: dict[str, Any], current: dict[str, Any]
) -> tuple[dict[str, Change], str | None]:
    """The outcome metrics' changes from per-example outcomes, and why there are none."""
    try:
        old, now = case_outcomes(baseline), case_outcomes(current)
    except (ValueError, KeyError) as error:
        return {}, f"its outcomes cannot be read ({error})"
    if old is None or now is None:
        which = "the baseline's records" if old is None else "this run's records"
        return {}, (
            f"{which} have no per-example outcomes (made before robustprune recorded them; "
            "regenerate the baseline for per-example bounds)"
        )
    reason = comparable(old, now)
    if reason is not None:
        return {}, reason
    paired, resampled = worsening_resamples(
        old, now, num_resamples=GATE_RESAMPLES, seed=0, seed_stream=_arch_stream(key[2])
    )
    method = "paired" if paired else "per example"
    changes = {}
    for metric, (worsening, resamples) in resampled.items():
        before, after = baseline["summary"].get(metric), current["summary"].get(metric)
        if before is None or after is None:
            continue
        lower, upper = bounds(resamples, GATE_CONFIDENCE)
        changes[metric] = Change(
            key, metric, before["mean"], after["mean"], worsening, lower, upper, method, resamples
        )
    return changes, None


def _gap(key: Key, baseline: dict, current: dict, nominal: Change, shifted: Change) -> Change:
    """The gap worsens when nominal PP or shifted PP mean falls: its worsening is the larger of
    theirs (a gap that shrinks because nominal PP fell is a regression; one that grows because
    nominal PP rose is not), and so are its bounds."""
    if nominal.resamples is not None and shifted.resamples is not None:
        resamples = np.maximum(nominal.resamples, shifted.resamples)
        lower, upper = bounds(resamples, GATE_CONFIDENCE)
    else:
        resamples = None
        lower, upper = max(nominal.lower, shifted.lower), max(nominal.upper, shifted.upper)
    return Change(
        key, "gap", baseline["summary"]["gap"]["mean"], current["summary"]["gap"]["mean"],
        max(nominal.worsening, shifted.worsening), lower, upper, nominal.method, resamples,
    )  # fmt: skip


def compare_records(
    baseline: dict[str, Any],
    current: dict[str, Any],
    metrics: Sequence[str] = ALL_METRICS,
    notes: list[str] | None = None,
) -> list[Change]:
    """Every compared metric of two records of one case, changed or not (``Change.unchanged``).

    A metric null or absent on either side is skipped. Outcome metrics use per-example
    outcomes when both records have them; ``notes`` gets why they did not.
    """
    key = record_key(current)
    seeds = len(baseline.get("seeds") or []) or 1
    per_example, reason = _per_example(key, baseline, current)
    if reason is not None and notes is not None:
        notes.append(f"seed-level bounds only: {reason}")
    wanted = set(metrics) | ({"nominal_pp", "shifted_pp_mean"} if "gap" in metrics else set())
    changes: dict[str, Change] = {}
    for metric in ALL_METRICS:
        if metric not in wanted or metric == "gap":
            continue
        before, after = baseline["summary"].get(metric), current["summary"].get(metric)
        if before is None or after is None:
            continue
        changes[metric] = per_example.get(metric) or _seed_level(key, metric, before, after, seeds)
    if "gap" in metrics and "nominal_pp" in changes and "shifted_pp_mean" in changes:
        if baseline["summary"].get("gap") and current["summary"].get("gap"):
            changes["gap"] = _gap(
                key, baseline, current, changes["nominal_pp"], changes["shifted_pp_mean"]
            )
    return [changes[metric] for metric in ALL_METRICS if metric in changes and metric in metrics]


def _aggregate(key: Key, metric: str, parts: list[Change]) -> Change:
    """A method over architectures: the mean worsening, bounds from the mean of the resampled
    worsenings (shared test examples, independent parents) or, at seed level, from the noises."""
    worsening = float(np.mean([part.worsening for part in parts]))
    if all(part.resamples is not None for part in parts):
        resamples = mean_resamples([part.resamples for part in parts])
        lower, upper = bounds(resamples, GATE_CONFIDENCE)
        method = parts[0].method if len({p.method for p in parts}) == 1 else "per example"
    else:
        resamples = None
        noise = math.sqrt(sum(((p.upper - p.lower) / 2) ** 2 for p in parts)) / len(parts)
        lower, upper, method = worsening - noise, worsening + noise, "seed level"
    return Change(
        key, metric, float(np.mean([p.baseline for p in parts])),
        float(np.mean([p.current for p in parts])), worsening, lower, upper, method, resamples,
    )  # fmt: skip


def compare(
    baseline: dict[str, Any], current: dict[str, Any], metrics: Sequence[str] = ALL_METRICS
) -> Comparison:
    """Compare matching records of two leaderboards, per case and per method over the
    architectures both share; cases made with other settings are listed, not compared."""
    old = {record_key(record): record for record in baseline["records"]}
    now = {record_key(record): record for record in current["records"]}
    common = sorted(old.keys() & now.keys())
    comparison = Comparison(
        missing=sorted(old.keys() - now.keys()), new=sorted(now.keys() - old.keys()),
        common=len(common),
    )  # fmt: skip
    comparison.machine_note = machine_class_note(baseline, current)
    by_method: dict[tuple[str, str, str, str], list[Change]] = {}
    for key in common:
        differences = settings_differences(old[key], now[key])
        if differences:
            comparison.mismatched[key] = differences
            continue
        for change in compare_records(old[key], now[key], metrics, comparison.notes):
            comparison.compared.add(change.metric)
            by_method.setdefault((key[0], key[1], key[3], change.metric), []).append(change)
            if change.unchanged:
                comparison.unchanged += 1
            else:
                comparison.changes.append(change)
    for (suite, dataset, method, metric), parts in by_method.items():
        if len(parts) < 2:
            continue
        change = _aggregate((suite, dataset, ALL_ARCHS, method), metric, parts)
        if change.unchanged:
            comparison.unchanged += 1
        else:
            comparison.changes.append(change)
    return comparison


def case_gate_failures(
    baseline: dict[str, Any] | None, record: dict[str, Any], gates: Sequence[Gate]
) -> list[str]:
    """The gates one case fails against its baseline record (none without a baseline record)."""
    if baseline is None or not gates:
        return []
    comparison = Comparison(common=1)
    differences = settings_differences(baseline, record)
    if differences:
        comparison.mismatched[record_key(record)] = differences
    else:
        for change in compare_records(baseline, record):
            comparison.compared.add(change.metric)
            if not change.unchanged:
                comparison.changes.append(change)
    return comparison.gate_failures(gates)


def suite_differences(baseline: dict[str, Any], suite: Any, seeds: Sequence[int]) -> list[str]:
    """Before a run: how the baseline's records of ``suite`` were made with other settings
    (delta, seeds, shifts, grid, recipes, mode and the pruner's class and arguments where
    records carry them), or that it holds none of that suite; empty when it matches."""
    records = [
        record
        for record in baseline["records"]
        if record["suite"] == suite.name and record["dataset"] == suite.dataset
    ]
    if not records:
        held = sorted({f"{r['suite']} ({r['dataset']})" for r in baseline["records"]})
        return [
            f"it holds no record of suite {suite.name!r} on {suite.dataset!r} "
            f"(it holds: {', '.join(held) or 'no records'})"
        ]
    expected = {
        "delta": suite.delta,
        "seeds": list(seeds),
        "grid": [round(float(ratio), 6) for ratio in suite.grid],
    }
    problems = []
    for record in records:
        settings = _settings(record)
        shifts = [name for name in settings["shifts"] if name != NOMINAL]
        for name, value in expected.items():
            if settings[name] != value:
                problems.append(f"{name} {settings[name]} -> {value}")
        if shifts != sorted(suite.shifts):
            problems.append(f"shifts {shifts} -> {sorted(suite.shifts)}")
        if record["arch"] in suite.archs:
            wanted = {
                "train_recipe": suite.train_recipe(record["arch"]),
                "retrain_recipe": suite.retrain_recipe(record["arch"]),
                "mode": suite.mode,
            }
            for name, value in wanted.items():
                if name in settings and settings[name] != value:
                    problems.append(f"{record['arch']} {name} {settings[name]} -> {value}")
        pruner = suite.pruner_spec(record["method"]).record()
        if "pruner" in settings and settings["pruner"] != pruner:
            problems.append(f"{record['method']} pruner {settings['pruner']} -> {pruner}")
    return sorted(set(problems))


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
    """Refuse (GateError), before a run, a gate on a metric no baseline record carries (a
    baseline made before robustprune recorded it): such a gate could only fail at the end.

    A tolerance finer than the prune-ratio grid step is allowed: the gate fails on the lower
    bound of the worsening, so ``prune_potential:0`` means "worse with 95 % confidence".
    """
    for gate in gates:
        absent = [
            metric
            for metric in gate.metrics
            if not any(record["summary"].get(metric) for record in baseline["records"])
        ]
        if absent and baseline["records"]:
            raise GateError(
                f"gate {gate}: no baseline record has {', '.join(absent)} (the baseline was made "
                "before robustprune recorded it, or without shifts); regenerate the baseline, or "
                f"gate one of: {', '.join(_gateable(baseline))}"
            )


def _gateable(baseline: dict[str, Any]) -> list[str]:
    present = {m for r in baseline["records"] for m, v in r["summary"].items() if v}
    groups = [name for name, members in METRIC_GROUPS.items() if present >= set(members)]
    return [m for m in ALL_METRICS if m in present] + groups


def _value(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric in PERCENT_METRICS else f"{value:.4f}"


def _delta(metric: str, value: float) -> str:
    return f"{100 * value:+.1f} pp" if metric in PERCENT_METRICS else f"{value:+.4f}"


def _amount(metric: str, value: float) -> str:
    return f"{100 * value:.1f} pp" if metric in PERCENT_METRICS else f"{value:.4f}"


def render_comparison(comparison: Comparison, gates: Sequence[Gate] = ()) -> str:
    """A table of regressions, improvements and changes within uncertainty, then cases made
    with other settings, missing/new cases, notes and failed gates."""
    failed = {id(change) for _, change in comparison.failures(gates)}
    order = {"REGRESSION": 0, "improvement": 1, "within uncertainty": 2, TIMING_STATUS: 3}
    ordered = sorted(comparison.changes, key=lambda c: (order[c.status], -c.lower))
    rows = [
        [
            "/".join(change.key),
            change.metric,
            _value(change.metric, change.baseline),
            _value(change.metric, change.current),
            _delta(change.metric, change.delta),
            f"{_signed(change.metric, change.worsening)} "
            f"[{_signed(change.metric, change.lower)}, {_signed(change.metric, change.upper)}]",
            change.method,
            change.status + (" (gate failed)" if id(change) in failed else ""),
        ]
        for change in ordered
    ]
    lines = [
        f"{len(comparison.regressions)} regression(s), {len(comparison.improvements)} "
        f"improvement(s), {len(comparison.within_uncertainty)} change(s) within uncertainty, "
        f"{comparison.unchanged} unchanged metric(s) over {comparison.common} common case(s)"
        + (f", {len(comparison.timings)} timing(s) not judged" if comparison.timings else "")
    ]
    if rows:
        headers = ["case", "metric", "baseline", "current", "delta", "worse by [95% bounds]",
                   "bounds", "status"]  # fmt: skip
        lines.append(tabulate(rows, headers, tablefmt="simple", disable_numparse=True))
        lines.append(
            "worse by: how much worse than the baseline (negative: better), with one-sided 95 % "
            "bounds; a regression when the lower bound is above 0, a failed gate when it is "
            "above the tolerance. paired: the same parents, per-example outcomes resampled "
            "together; per example: other parents; seed level: from the baseline's interval. "
            "The gap worsens when nominal PP or shifted PP mean falls. "
            f"{TIMING_STATUS}: a clock measurement (speedup), moved by the machine's load as "
            "much as by the code; only a gate that names it fails on it. "
            f"Arch {ALL_ARCHS}: the method's mean over the architectures both runs have."
        )
    by_reason: dict[str, list[Key]] = {}
    for key, reasons in comparison.mismatched.items():
        by_reason.setdefault("; ".join(reasons), []).append(key)
    for reasons, keys in by_reason.items():
        lines.append(
            f"not compared, made with other settings than the baseline ({reasons}): "
            + ", ".join("/".join(key) for key in keys)
        )
    if comparison.missing:
        lines.append("not in this run: " + ", ".join("/".join(key) for key in comparison.missing))
    if comparison.new:
        lines.append("not in the baseline: " + ", ".join("/".join(key) for key in comparison.new))
    for note in dict.fromkeys(comparison.notes if comparison.changes else []):
        count = comparison.notes.count(note)
        lines.append(f"{note} [{count} case(s)]" if count > 1 else note)
    lines += [comparison.machine_note] if comparison.machine_note else []
    lines += comparison.gate_failures(gates)
    return "\n".join(lines) + "\n"


def _signed(metric: str, value: float) -> str:
    return f"{100 * value:+.1f}" if metric in PERCENT_METRICS else f"{value:+.4f}"
