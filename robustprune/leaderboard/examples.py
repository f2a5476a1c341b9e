"""A valid example record, for tests and documentation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from robustprune.distributions import NOMINAL
from robustprune.leaderboard.schema import SCHEMA


def example_record(
    method: str = "WT",
    arch: str = "resnet20",
    dataset: str = "digits",
    suite: str = "digits",
    nominal_pp: Sequence[float] = (0.85, 0.8),
    shifted_pp: Sequence[float] | None = None,
    slope: Sequence[float] | None = None,
    intervals: bool = True,
    ratios: Sequence[float] = (0.2, 0.5, 0.8, 0.85, 0.9, 0.95),
) -> dict[str, Any]:
    """A small, valid, self-consistent record (one value per seed) for tests and docs.

    ``shifted_pp`` defaults to nominal - 0.4 per seed, ``slope`` to 0.02, 0.025, ...
    Every summary statistic carries ``ci`` = [min, max] over seeds (a stand-in for the
    bootstrap interval); ``intervals=False`` leaves them out, like a schema-1 record.
    ``ratios`` is the evaluated prune-ratio grid (its smallest step, 0.05, bounds gate tolerances).
    """
    seeds = list(range(len(nominal_pp)))
    if shifted_pp is None:
        shifted_pp = [max(0.0, value - 0.4) for value in nominal_pp]
    if slope is None:
        slope = [0.02 + 0.005 * seed for seed in seeds]
    shift = "corruption:gaussian_noise:3"

    def stat(values: Sequence[float], ci: bool = False) -> dict[str, Any]:
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
        out: dict[str, Any] = {"values": list(values), "mean": mean, "std": std}
        return out | ({"ci": [min(values), max(values)]} if ci else {})

    def summary(values: Sequence[float]) -> dict[str, Any]:
        out: dict[str, Any] = {"mean": stat(values)["mean"], "std": stat(values)["std"]}
        return out | ({"ci": [min(values), max(values)]} if intervals else {})

    gap = [n - s for n, s in zip(nominal_pp, shifted_pp, strict=True)]
    flops = [0.8 * n for n in nominal_pp]
    curve = [
        [
            {"target_ratio": ratio, "prune_ratio": ratio, "flop_reduction": 0.8 * ratio,
             "accuracy": {NOMINAL: 0.98 - ratio / 10, shift: 0.9 - ratio / 5},
             "loss": {NOMINAL: 0.07 + ratio / 10, shift: 0.3 + ratio / 5}}
            for ratio in ratios
        ]
        for _ in seeds
    ]  # fmt: skip
    return {
        "schema": SCHEMA, "suite": suite, "dataset": dataset, "arch": arch, "method": method,
        "structured": method in {"FT", "PFP"}, "data_informed": method in {"SiPP", "PFP"},
        "seeds": seeds, "delta": 0.005, "chance": 0.1, "distributions": [NOMINAL, shift],
        "shift_sources": {shift: "generated"}, "degenerate": {},
        "parent": {
            NOMINAL: {"accuracy": [0.98] * len(seeds), "loss": [0.07] * len(seeds)},
            shift: {"accuracy": [0.9] * len(seeds), "loss": [0.3] * len(seeds)},
        },
        "curve": curve,
        "prune_potential": {NOMINAL: stat(nominal_pp, ci=True), shift: stat(shifted_pp, ci=True)},
        "flop_reduction_at_pp": {NOMINAL: stat(flops), shift: stat([0.8 * s for s in shifted_pp])},
        "excess_error": {"ratios": list(ratios),
                         "values": [[s * (r - ratios[0]) for r in ratios] for s in slope],
                         "slope": stat(slope)},
        "similarity": None,
        "uncertainty": {"method": "percentile bootstrap", "resampled": ["test examples", "seeds"],
                        "resamples": 1000, "confidence": 0.95} if intervals else None,
        "summary": {
            "nominal_pp": summary(nominal_pp), "shifted_pp_mean": summary(shifted_pp),
            "shifted_pp_min": summary(shifted_pp), "gap": summary(gap),
            "excess_error_slope": summary(slope), "flop_reduction_at_pp": summary(flops),
            "similarity": None,
        },
        "thresholds": {"nominal_pp": 0.5, "shifted_pp": {shift: 0.1}, "excess_error_slope_max": 0.2},
        "timings": {"parent_s": 1.5, "curve_s": 4.0, "evaluation_s": 0.5},
        "artifacts": {"parent": ["computed"] * len(seeds), "curve": ["loaded"] * len(seeds)},
        "environment": {"device": "cpu"},
    }  # fmt: skip
