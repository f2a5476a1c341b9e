"""Per-seed values behind a record's summary, with the grid's ends marked as censored.

Prune potential only takes values on the prune-ratio grid, so two of its values are not
measurements but bounds: a seed whose PP is the grid's last point could have gone further
(the true PP is at least that, shown ``≥96.7``), and a PP of 0 means even the grid's first
point lost more than δ (the true PP is below it, shown ``<30.0``). Means over such values are
bounds too; :func:`mean_bound` says which way. Everything here is read from the record's
curves, prune potentials and latency block; nothing is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from robustprune.distributions import NOMINAL

AT_LEAST, AT_MOST, EITHER = "≥", "≤", "~"
"""Marks of a mean that is a bound: the true value is at least / at most the one shown, or
censoring pulls both ways (a gap whose nominal and shifted PP are both censored)."""

PP_METRICS = ("nominal_pp", "shifted_pp_mean", "shifted_pp_min")


@dataclass(frozen=True)
class SeedValue:
    """One seed's value (a fraction) and, for a prune potential at a grid end, the bound.

    ``censored`` is ``"top"`` (at the grid's last point, or a mean over censored PPs: the true
    value is >= ``value``), ``"bottom"`` (0: the true PP is below ``bound``, the grid's first
    point) or None. A gap's carries its direction instead: ``≥``, ``≤`` or ``~``
    (:func:`gap_bound`).
    """

    value: float
    censored: str | None = None
    bound: float | None = None


def percent(value: float) -> str:
    """``0.9668`` -> ``"96.7"``."""
    return f"{100 * value:.1f}"


def format_seed_value(item: SeedValue | None) -> str:
    """``"84.7"``, ``"≥96.7"`` (grid's last point), ``"<30.0"`` (below the first), ``"—"``."""
    if item is None:
        return "—"
    if item.censored == "bottom" and item.bound is not None:
        return f"<{percent(item.bound)}"
    if item.censored == "top":
        return f"≥{percent(item.value)}"
    return percent(item.value)


def _grid_ends(record: dict[str, Any], seed_index: int) -> tuple[float, float] | None:
    """(first, last) prune ratio of one seed's curve, or None without a curve."""
    curves = record.get("curve") or []
    if seed_index >= len(curves) or not curves[seed_index]:
        return None
    ratios = [point.get("prune_ratio") for point in curves[seed_index]]
    ratios = [float(r) for r in ratios if isinstance(r, int | float) and math.isfinite(r)]
    return (min(ratios), max(ratios)) if ratios else None


def seed_potentials(record: dict[str, Any], distribution: str) -> list[SeedValue]:
    """One distribution's PP per seed, grid ends marked; ``[]`` when the record lacks them."""
    values = ((record.get("prune_potential") or {}).get(distribution) or {}).get("values") or []
    items = []
    for index, value in enumerate(values):
        value = float(value)
        ends = _grid_ends(record, index)
        if ends is None:
            items.append(SeedValue(value))
        elif value <= 0.0:
            items.append(SeedValue(value, "bottom", ends[0]))
        elif value >= ends[1] - 1e-9:
            items.append(SeedValue(value, "top", value))
        else:
            items.append(SeedValue(value))
    return items


def summary_shifts(record: dict[str, Any]) -> list[str]:
    """The shifts behind shifted PP mean/min and the gap (degenerate ones left out)."""
    flagged = record.get("degenerate") or {}
    return [d for d in record.get("distributions") or [] if d != NOMINAL and d not in flagged]


def _mean_of(items: list[SeedValue]) -> SeedValue:
    """The mean of PPs of which some may be censored: below the first point when all are
    (PP 0 everywhere), else a lower bound when any is (``"top"``: the true mean is >= it)."""
    value = sum(i.value for i in items) / len(items)
    if all(i.censored == "bottom" for i in items):
        return SeedValue(value, "bottom", max(i.bound or 0.0 for i in items))
    return SeedValue(value, "top" if any(i.censored for i in items) else None, value)


def seed_summary(record: dict[str, Any]) -> dict[str, list[SeedValue]]:
    """Per seed: nominal PP, shifted PP mean and min, and the gap, as the summary computes them.

    A shifted mean over a censored shift PP is marked ``"top"`` (the true value is at least the
    one shown: a PP at either grid end is a lower bound on what the grid hides, 0 at the bottom
    included), or ``"bottom"`` when every shift is at 0; the min keeps its own shift's mark.
    The gap's mark is its direction (:func:`gap_bound`). Metrics the record cannot give per
    seed are left out.
    """
    nominal = seed_potentials(record, NOMINAL)
    shifts = {d: seed_potentials(record, d) for d in summary_shifts(record)}
    result: dict[str, list[SeedValue]] = {}
    if nominal:
        result["nominal_pp"] = nominal
    if not shifts or any(len(v) != len(nominal) for v in shifts.values()) or not nominal:
        return result
    means, mins = [], []
    for index in range(len(nominal)):
        row = [shifts[d][index] for d in shifts]
        means.append(_mean_of(row))
        mins.append(min(row, key=lambda item: item.value))  # its own mark: the others are higher
    result["shifted_pp_mean"], result["shifted_pp_min"] = means, mins
    result["gap"] = [
        SeedValue(n.value - s.value, gap_bound([n], [s]))
        for n, s in zip(nominal, means, strict=True)
    ]
    return result


def gap_bound(nominal: list[SeedValue], shifted: list[SeedValue]) -> str | None:
    """Which way the gap is a bound: a censored nominal PP is at least its value, so the gap is
    at least the one shown (``≥``); a censored shifted PP makes it at most (``≤``); both: ``~``."""
    high = any(i.censored for i in nominal)
    low = any(i.censored for i in shifted)
    return EITHER if high and low else AT_LEAST if high else AT_MOST if low else None


def mean_bound(record: dict[str, Any], metric: str) -> str | None:
    """The mark of a summary mean over seeds: ``≥``, ``≤``, ``~``, or None (measured)."""
    seeds = seed_summary(record)
    if metric in PP_METRICS:
        return AT_LEAST if any(i.censored for i in seeds.get(metric, [])) else None
    if metric == "gap":
        marks = {i.censored for i in seeds.get("gap", [])} - {None}
        if not marks:
            return None
        return marks.pop() if len(marks) == 1 else EITHER
    return None


def below_grid(record: dict[str, Any], metric: str) -> float | None:
    """The grid's first point when every seed's ``metric`` (a PP) is 0, i.e. below it: the
    mean is then ``<`` that point, not a measured 0. None otherwise."""
    items = seed_summary(record).get(metric, []) if metric in PP_METRICS else []
    if items and all(i.censored == "bottom" for i in items):
        return max(i.bound or 0.0 for i in items)
    return None


def shifts_at_grid_ends(record: dict[str, Any], seed_index: int) -> str:
    """``"<: 2/7, ≥: 1/7"`` -- how many of a seed's summary shifts have a censored PP; ``"—"``."""
    shifts = summary_shifts(record)
    counted = [seed_potentials(record, d) for d in shifts]
    marks = [v[seed_index].censored for v in counted if seed_index < len(v)]
    parts = [
        f"{symbol}: {marks.count(kind)}/{len(shifts)}"
        for symbol, kind in (("<", "bottom"), ("≥", "top"))
        if marks.count(kind)
    ]
    return ", ".join(parts) or "—"


def census(records: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """``{"nominal top": (4, 32), "shifted bottom": (56, 224), ...}``: censored per-seed PPs
    out of all, over ``records`` (the counts a reader needs to judge the means)."""
    counts = {"nominal top": [0, 0], "nominal bottom": [0, 0], "shifted top": [0, 0],
              "shifted bottom": [0, 0]}  # fmt: skip
    for record in records:
        for distribution in [NOMINAL, *summary_shifts(record)]:
            side = "nominal" if distribution == NOMINAL else "shifted"
            for item in seed_potentials(record, distribution):
                for kind in ("top", "bottom"):
                    counts[f"{side} {kind}"][1] += 1
                    counts[f"{side} {kind}"][0] += item.censored == kind
    return {key: (hit, total) for key, (hit, total) in counts.items()}


@dataclass(frozen=True)
class Speedup:
    """Measured speedup at the nominal PP: the mean over pruned seeds, per-seed values (None
    for a seed that was not pruned, PP 0) and the timing noise (same units), or None."""

    mean: float | None
    seeds: list[float | None]
    noise: float | None


def speedup(record: dict[str, Any]) -> Speedup | None:
    """The record's largest-batch speedup without the seeds whose network was not pruned.

    Timing noise: each seed times the parent (the same architecture, so the same cost) again;
    half the spread of those times relative to their mean, times the speedup, is what the
    clock alone moves it by. None without a latency block.
    """
    latency = record.get("latency")
    if not isinstance(latency, dict) or not latency.get("seeds"):
        return None
    batch = str(max(int(b) for b in latency.get("batch_sizes") or [64]))
    seeds: list[float | None] = []
    parent_times = []
    for seed in latency["seeds"]:
        value = (seed.get("speedup") or {}).get(batch)
        pruned = float(seed.get("prune_ratio") or 0.0) > 0.0
        seeds.append(float(value) if pruned and value is not None else None)
        parent_time = (seed.get("parent_s") or {}).get(batch)
        if parent_time:
            parent_times.append(float(parent_time))
    measured = [v for v in seeds if v is not None]
    mean = sum(measured) / len(measured) if measured else None
    noise = None
    if mean is not None and len(parent_times) > 1:
        spread = (max(parent_times) - min(parent_times)) / 2
        noise = mean * spread / (sum(parent_times) / len(parent_times))
    return Speedup(mean, seeds, noise)


def format_speedup(value: Speedup | None) -> str:
    """``"1.26 (±0.12)"``, ``"1.26"`` without a noise estimate, ``"—"`` when nothing was pruned."""
    if value is None or value.mean is None:
        return "—"
    text = f"{value.mean:.2f}"
    return text + (f" (±{value.noise:.2f})" if value.noise is not None else "")
