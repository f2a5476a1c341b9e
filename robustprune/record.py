"""Turn a case's measurements into a record (docs/records.md): plain JSON, one per case."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robustprune.distributions import NOMINAL
from robustprune.leaderboard.outcomes import outcomes_block, parent_digest
from robustprune.leaderboard.schema import SCHEMA, similarity_key
from robustprune.metrics import (
    aggregate_seeds,
    excess_error,
    excess_error_slope,
)
from robustprune.metrics.bootstrap import CaseIntervals, bootstrap_case, degenerate_reason
from robustprune.results import CaseResult, Measurements, PointResult, SeedResult

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95


def build_record(result: CaseResult, num_classes: int | None = None) -> dict[str, Any]:
    """The record of one case: parent metrics, curves, prune potentials, excess error, summary.

    ``num_classes`` (default: ``result.num_classes``) sets chance (1 / num_classes) for flagging
    degenerate shifts; without it no shift is flagged.
    """
    case, suite = result.case, result.case.suite
    seeds = result.seeds
    if num_classes is None:
        num_classes = result.num_classes
    distributions = list(seeds[0].parent_eval)
    shifts = [name for name in distributions if name != NOMINAL]
    delta = suite.delta

    parent = {
        name: {
            "accuracy": [s.parent_eval[name].accuracy for s in seeds],
            "loss": [s.parent_eval[name].loss for s in seeds],
        }
        for name in distributions
    }
    curve = [[_curve_row(row, distributions) for row in s.points] for s in seeds]

    values_by, flops_at_pp = {}, {}
    for name in distributions:
        values, flop_values = [], []
        for s in seeds:
            pp = s.prune_potential(name, delta)
            values.append(pp)
            flop_values.append(_flops_at(s.points, pp))
        values_by[name] = values
        flops_at_pp[name] = aggregate_seeds(flop_values)

    intervals = _intervals(seeds, distributions, shifts, delta)
    degenerate: dict[str, str] = {}
    if intervals is not None:
        for name in shifts:
            parent[name]["accuracy_ci"] = list(intervals.parent_accuracy[name])
            reason = degenerate_reason(
                float(np.mean(parent[name]["accuracy"])),
                intervals.parent_accuracy[name],
                num_classes,
                delta,
            )
            if reason is not None:
                degenerate[name] = reason
        parent[NOMINAL]["accuracy_ci"] = list(intervals.parent_accuracy[NOMINAL])
        summary_shifts = [name for name in shifts if name not in degenerate]
        if degenerate:  # the summary intervals must leave the flagged shifts out as well
            intervals = _intervals(seeds, distributions, shifts, delta, summary_shifts)
    summary_shifts = [name for name in shifts if name not in degenerate]

    potential = {name: aggregate_seeds(values_by[name]) for name in distributions}
    if intervals is not None:
        for name in distributions:
            potential[name]["ci"] = list(intervals.potential[name])
    excess = _excess(seeds, shifts)
    per_seed = range(len(seeds))
    shifted_means = [
        float(np.mean([values_by[n][i] for n in summary_shifts])) for i in per_seed
    ] if summary_shifts else []  # fmt: skip
    shifted_mins = [
        float(np.min([values_by[n][i] for n in summary_shifts])) for i in per_seed
    ] if summary_shifts else []  # fmt: skip
    gaps = [values_by[NOMINAL][i] - shifted_means[i] for i in range(len(shifted_means))]
    changes = _mean_accuracy_change(seeds, distributions)
    shifted_changes = [
        float(np.mean([changes[n][i] for n in summary_shifts])) for i in per_seed
    ] if summary_shifts else []  # fmt: skip
    similarity = _similarity_at_pp(seeds, values_by[NOMINAL])
    ci = intervals.summary if intervals else {}

    return {
        "schema": SCHEMA,
        "suite": suite.name,
        "dataset": suite.dataset,
        "arch": case.arch,
        "method": case.method,
        "pruner": suite.pruner_spec(case.method).record(),
        "structured": result.structured,
        "data_informed": result.data_informed,
        "seeds": [s.seed for s in seeds],
        "delta": delta,
        "chance": 1.0 / num_classes if num_classes else None,
        "distributions": distributions,
        "shift_sources": result.shift_sources,
        "degenerate": degenerate,
        "parent": parent,
        "curve": curve,
        "accuracy_change_ci": {
            name: [list(interval) for interval in intervals.accuracy_change[name]]
            for name in distributions
        }
        if intervals
        else None,
        "prune_potential": potential,
        "mean_accuracy_change": {
            name: _stat(changes[name], intervals.mean_accuracy_change[name] if intervals else None)
            | {"values": changes[name]}
            for name in distributions
        },
        "flop_reduction_at_pp": flops_at_pp,
        "excess_error": excess,
        "similarity": _similarity_record(seeds[0].similarity),
        "features": seeds[0].features,
        "latency": _latency(seeds),
        "uncertainty": {
            "method": "percentile bootstrap",
            "resampled": ["test examples", "seeds"] if len(seeds) > 1 else ["test examples"],
            "resamples": BOOTSTRAP_RESAMPLES,
            "confidence": CONFIDENCE,
        }
        if intervals
        else None,
        "summary": {
            "nominal_pp": _stat(values_by[NOMINAL], ci.get("nominal_pp")),
            "shifted_pp_mean": _stat(shifted_means, ci.get("shifted_pp_mean")),
            "shifted_pp_min": _stat(shifted_mins, ci.get("shifted_pp_min")),
            "gap": _stat(gaps, ci.get("gap")),
            "nominal_accuracy_change": _stat(changes[NOMINAL], ci.get("nominal_accuracy_change")),
            "shifted_accuracy_change": _stat(shifted_changes, ci.get("shifted_accuracy_change")),
            "excess_error_slope": _stat(excess["slope"]["values"], ci.get("excess_error_slope"))
            if excess
            else None,
            "flop_reduction_at_pp": _stat(
                flops_at_pp[NOMINAL]["values"], ci.get("flop_reduction_at_pp")
            ),
            "similarity": _stat(similarity) if similarity else None,
            **_speedup(seeds),
        },
        "thresholds": suite.thresholds_for(case.method).to_dict(),
        "settings": _settings(suite, case.arch),
        "outcomes": _outcomes(seeds, distributions),
        "timings": {key: round(sum(s.timings[key] for s in seeds), 3) for key in seeds[0].timings},
        "artifacts": {key: [s.origins[key] for s in seeds] for key in seeds[0].origins},
        "environment": result.environment,
    }


def _speedup(seeds) -> dict[str, Any]:
    """``{"speedup_at_pp": stat}`` (batch 64) when every seed measured latency, else ``{}``."""
    if not seeds or any(getattr(s, "latency", None) is None for s in seeds):
        return {}
    largest = str(max(seeds[0].latency["batch_sizes"]))
    return {"speedup_at_pp": _stat([s.latency["speedup"][largest] for s in seeds])}


def _latency(seeds) -> dict[str, Any] | None:
    """Per seed, parent vs compacted latency at the nominal PP; None when not measured."""
    if not seeds or any(getattr(s, "latency", None) is None for s in seeds):
        return None
    first = seeds[0].latency
    return {
        "device": first["device"],
        "threads": first["threads"],
        "batch_sizes": first["batch_sizes"],
        "repeats": first["repeats"],
        "speedup": {
            batch: _stat([s.latency["speedup"][batch] for s in seeds]) for batch in first["speedup"]
        },
        "seeds": [
            {
                "prune_ratio": s.latency["prune_ratio"],
                "parent_s": s.latency["parent_s"],
                "compacted_s": s.latency["compacted_s"],
                "speedup": s.latency["speedup"],
                "parameters": s.latency["parameters"],
            }
            for s in seeds
        ],
    }


def _curve_row(row: PointResult, distributions: list[str]) -> dict[str, Any]:
    return {
        "target_ratio": row.target_ratio,
        "prune_ratio": row.prune_ratio,
        "flop_reduction": row.flop_reduction,
        "accuracy": {name: row.evaluation[name].accuracy for name in distributions},
        "loss": {name: row.evaluation[name].loss for name in distributions},
    }


def _flops_at(points: list[PointResult], ratio: float) -> float:
    """FLOP reduction of the curve point whose prune ratio is ``ratio`` (0 when ratio is 0)."""
    for row in points:
        if math.isclose(row.prune_ratio, ratio):
            return row.flop_reduction
    return 0.0


def _intervals(
    seeds: list[SeedResult],
    distributions: list[str],
    shifts: list[str],
    delta: float,
    summary_shifts: list[str] | None = None,
) -> CaseIntervals | None:
    """The joint bootstrap (test examples and seeds) of every interval; None without per-example data."""
    if any(len(s.parent_eval[name].correct) == 0 for s in seeds for name in distributions):
        return None  # segmentation: no per-example correctness
    if len({len(s.points) for s in seeds}) != 1 or not seeds[0].points:
        return None  # seeds with different grids cannot be stacked
    parent = {
        name: np.stack([_numpy(s.parent_eval[name].correct) for s in seeds])
        for name in distributions
    }
    pruned = {
        name: np.stack(
            [np.stack([_numpy(row.evaluation[name].correct) for row in s.points]) for s in seeds]
        )
        for name in distributions
    }
    return bootstrap_case(
        np.array([[row.prune_ratio for row in s.points] for s in seeds], dtype=float),
        parent,
        pruned,
        delta=delta,
        nominal=NOMINAL,
        summary_shifts=shifts if summary_shifts is None else summary_shifts,
        excess_shifts=shifts,
        flop_reductions=np.array([[row.flop_reduction for row in s.points] for s in seeds]),
        num_resamples=BOOTSTRAP_RESAMPLES,
        confidence=CONFIDENCE,
        seed=0,
    )


def _settings(suite: Any, arch: str) -> dict[str, Any] | None:
    """Suite settings beyond delta, seeds, shifts and grid that change the numbers (compared
    by ``robustprune.leaderboard.compare``); None for a suite-like object without them."""
    if not hasattr(suite, "train_recipe"):
        return None
    return {
        "train_recipe": suite.train_recipe(arch),
        "retrain_recipe": suite.retrain_recipe(arch),
        "mode": suite.mode,
    }


def _mean_accuracy_change(
    seeds: list[SeedResult], distributions: list[str]
) -> dict[str, list[float]]:
    """Per distribution and seed: the mean over the grid of (pruned - parent) top-1 accuracy,
    the area under the accuracy-change curve per grid point (continuous, unlike PP)."""
    return {
        name: [
            float(np.mean([row.evaluation[name].accuracy for row in s.points]))
            - s.parent_eval[name].accuracy
            if s.points
            else 0.0
            for s in seeds
        ]
        for name in distributions
    }


def _outcomes(seeds: list[SeedResult], distributions: list[str]) -> dict[str, Any] | None:
    """Per distribution and seed, which test examples the parent and every curve point got
    right (bit-packed, robustprune.leaderboard.outcomes); None without per-example data."""
    if any(len(s.parent_eval[name].correct) == 0 for s in seeds for name in distributions):
        return None
    parent = {
        name: [_numpy(s.parent_eval[name].correct).astype(bool) for s in seeds]
        for name in distributions
    }
    pruned = {
        name: [[_numpy(row.evaluation[name].correct).astype(bool) for row in s.points]
               for s in seeds]
        for name in distributions
    }  # fmt: skip
    digests = [
        parent_digest(
            {name: parent[name][index] for name in distributions},
            {name: s.parent_eval[name].accuracy for name in distributions},
            {name: s.parent_eval[name].loss for name in distributions},
        )
        for index, s in enumerate(seeds)
    ]
    return outcomes_block(parent, pruned, digests)


def _error(evaluation: Measurements, name: str) -> float:
    return 1 - evaluation[name].accuracy


def _numpy(values: Any) -> np.ndarray:
    return values.numpy() if hasattr(values, "numpy") else np.asarray(values)


def _excess(seeds: list[SeedResult], shifts: list[str]) -> dict[str, Any] | None:
    """Excess error per seed and ratio, and its least-squares slope through the origin."""
    if not shifts:
        return None
    values, slopes = [], []
    for s in seeds:
        pruned_nominal = [_error(row.evaluation, NOMINAL) for row in s.points]
        pruned_shifted = [[_error(row.evaluation, n) for n in shifts] for row in s.points]
        parent_shifted = [_error(s.parent_eval, n) for n in shifts]
        excess = excess_error(
            pruned_nominal, pruned_shifted, _error(s.parent_eval, NOMINAL), parent_shifted
        )
        values.append([float(v) for v in excess])
        slopes.append(excess_error_slope([row.prune_ratio for row in s.points], excess))
    return {
        "ratios": [row.prune_ratio for row in seeds[0].points],
        "values": values,
        "slope": aggregate_seeds(slopes),
    }


def _similarity_record(similarity: dict[str, Any] | None) -> dict[str, Any] | None:
    """A seed's similarity as the record stores it: curves keyed by ``similarity_key(ratio)``
    (JSON objects need string keys), everything else as measured."""
    if similarity is None:
        return None
    keyed = {
        name: {similarity_key(ratio): curve for ratio, curve in similarity[name].items()}
        for name in ("agreement", "softmax_l2")
        if isinstance(similarity.get(name), dict)
    }
    return {**similarity, **keyed}


def _similarity_at_pp(seeds, nominal_pps: list[float]) -> list[float]:
    """Per seed: label agreement with the parent, averaged over the noise radii, of the measured ratio nearest its nominal PP."""
    values = []
    for s, pp in zip(seeds, nominal_pps, strict=True):
        if not s.similarity or not s.similarity["agreement"]:
            continue
        agreement = s.similarity["agreement"]
        nearest = min(agreement, key=lambda ratio: abs(ratio - pp))
        values.append(float(np.mean(agreement[nearest])))
    return values


def _stat(
    values: list[float], interval: tuple[float, float] | None = None
) -> dict[str, Any] | None:
    """``{"mean", "std"}`` over seeds, plus the bootstrap ``ci`` [low, high] when there is one."""
    if not values:
        return None
    summary = aggregate_seeds(values)
    stat: dict[str, Any] = {"mean": summary["mean"], "std": summary["std"]}
    if interval is not None:
        stat["ci"] = [float(interval[0]), float(interval[1])]
    return stat
