"""Turn a case's measurements into a record (docs/records.md): plain JSON, one per case."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robustprune.harness import NOMINAL, CaseResult
from robustprune.metrics import (
    aggregate_seeds,
    bootstrap_prune_potential,
    excess_error,
    excess_error_slope,
    prune_potential,
)

RECORD_SCHEMA = 1
BOOTSTRAP_RESAMPLES = 200


def build_record(result: CaseResult) -> dict[str, Any]:
    """The record of one case: parent metrics, curves, prune potentials, excess error, summary."""
    case, suite = result.case, result.case.suite
    seeds = result.seeds
    distributions = list(seeds[0].parent_eval)
    shifts = [name for name in distributions if name != NOMINAL]
    delta = suite.delta

    parent = {
        name: {
            "accuracy": [s.parent_eval[name]["accuracy"] for s in seeds],
            "loss": [s.parent_eval[name]["loss"] for s in seeds],
        }
        for name in distributions
    }
    curve = [[_curve_row(row, distributions) for row in s.points] for s in seeds]

    potential, flops_at_pp = {}, {}
    for name in distributions:
        values, flop_values = [], []
        for s in seeds:
            ratios = [row["prune_ratio"] for row in s.points]
            errors = [1 - row["evaluation"][name]["accuracy"] for row in s.points]
            pp = prune_potential(ratios, errors, 1 - s.parent_eval[name]["accuracy"], delta)
            values.append(pp)
            flop_values.append(_flops_at(s.points, pp))
        potential[name] = {**aggregate_seeds(values), "ci": _bootstrap_ci(seeds, name, delta)}
        flops_at_pp[name] = aggregate_seeds(flop_values)

    excess = _excess(seeds, shifts)
    shifted_means = (
        [float(np.mean([potential[n]["values"][i] for n in shifts])) for i in range(len(seeds))]
        if shifts
        else []
    )
    shifted_mins = (
        [float(np.min([potential[n]["values"][i] for n in shifts])) for i in range(len(seeds))]
        if shifts
        else []
    )
    gaps = [potential[NOMINAL]["values"][i] - shifted_means[i] for i in range(len(shifted_means))]
    similarity = _similarity_at_pp(seeds, potential[NOMINAL]["values"])

    return {
        "schema": RECORD_SCHEMA,
        "suite": suite.name,
        "dataset": suite.dataset,
        "arch": case.arch,
        "method": case.method,
        "structured": result.structured,
        "data_informed": result.data_informed,
        "seeds": [s.seed for s in seeds],
        "delta": delta,
        "distributions": distributions,
        "shift_sources": result.shift_sources,
        "parent": parent,
        "curve": curve,
        "prune_potential": potential,
        "flop_reduction_at_pp": flops_at_pp,
        "excess_error": excess,
        "similarity": seeds[0].similarity,
        "features": seeds[0].features,
        "summary": {
            "nominal_pp": _mean_std(potential[NOMINAL]["values"]),
            "shifted_pp_mean": _mean_std(shifted_means),
            "shifted_pp_min": _mean_std(shifted_mins),
            "gap": _mean_std(gaps),
            "excess_error_slope": _mean_std(excess["slope"]["values"]) if excess else None,
            "flop_reduction_at_pp": _mean_std(flops_at_pp[NOMINAL]["values"]),
            "similarity": _mean_std(similarity) if similarity else None,
        },
        "thresholds": suite.thresholds_for(case.method).to_dict(),
        "timings": {key: round(sum(s.timings[key] for s in seeds), 3) for key in seeds[0].timings},
        "artifacts": {key: [s.origins[key] for s in seeds] for key in seeds[0].origins},
        "environment": result.environment,
    }


def _curve_row(row: dict[str, Any], distributions: list[str]) -> dict[str, Any]:
    return {
        "target_ratio": row["target_ratio"],
        "prune_ratio": row["prune_ratio"],
        "flop_reduction": row["flop_reduction"],
        "accuracy": {name: row["evaluation"][name]["accuracy"] for name in distributions},
        "loss": {name: row["evaluation"][name]["loss"] for name in distributions},
    }


def _flops_at(points: list[dict[str, Any]], ratio: float) -> float:
    """FLOP reduction of the curve point whose prune ratio is ``ratio`` (0 when ratio is 0)."""
    for row in points:
        if math.isclose(row["prune_ratio"], ratio):
            return row["flop_reduction"]
    return 0.0


def _bootstrap_ci(seeds, name: str, delta: float) -> list[float] | None:
    """Percentile interval of the seed-mean prune potential, resampling test examples."""
    parent = [s.parent_eval[name]["correct"] for s in seeds]
    if any(len(p) == 0 for p in parent):
        return None  # segmentation: no per-example correctness
    pruned = [
        np.stack([row["evaluation"][name]["correct"].numpy() for row in s.points]) for s in seeds
    ]
    ratios = [row["prune_ratio"] for row in seeds[0].points]
    low, high = bootstrap_prune_potential(
        ratios,
        np.stack([p.numpy() for p in parent]),
        np.stack(pruned),
        delta=delta,
        num_resamples=BOOTSTRAP_RESAMPLES,
        seed=0,
    )
    return [float(low), float(high)]


def _excess(seeds, shifts: list[str]) -> dict[str, Any] | None:
    """Excess error per seed and ratio, and its least-squares slope through the origin."""
    if not shifts:
        return None
    values, slopes = [], []
    for s in seeds:
        accuracy = lambda source, name: 1 - source[name]["accuracy"]  # noqa: E731
        pruned_nominal = [accuracy(row["evaluation"], NOMINAL) for row in s.points]
        pruned_shifted = [[accuracy(row["evaluation"], n) for n in shifts] for row in s.points]
        parent_shifted = [accuracy(s.parent_eval, n) for n in shifts]
        excess = excess_error(
            pruned_nominal, pruned_shifted, accuracy(s.parent_eval, NOMINAL), parent_shifted
        )
        values.append([float(v) for v in excess])
        slopes.append(excess_error_slope([row["prune_ratio"] for row in s.points], excess))
    return {
        "ratios": [row["prune_ratio"] for row in seeds[0].points],
        "values": values,
        "slope": aggregate_seeds(slopes),
    }


def _similarity_at_pp(seeds, nominal_pps: list[float]) -> list[float]:
    """Per seed: label agreement with the parent, averaged over the noise radii, of the measured ratio nearest its nominal PP."""
    values = []
    for s, pp in zip(seeds, nominal_pps, strict=True):
        if not s.similarity or not s.similarity["agreement"]:
            continue
        labels = list(s.similarity["agreement"])
        nearest = min(labels, key=lambda label: abs(float(label) - pp))
        curve = s.similarity["agreement"][nearest]
        values.append(float(np.mean(curve)))
    return values


def _mean_std(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    summary = aggregate_seeds(values)
    return {"mean": summary["mean"], "std": summary["std"]}
