"""How much worse one run is than another, resampled from per-example outcomes.

The regression gate (``robustprune.leaderboard.compare``) asks: with 95 % confidence, is the
current run worse than the baseline by more than a tolerance? This module answers it from the
per-example outcomes two records carry (``robustprune.leaderboard.outcomes``) with one
bootstrap of the *difference*:

- test examples are drawn once per resample and used by both runs and every distribution of
  the same size (the two runs share the test set, so it is counted once, never twice);
- seeds are drawn in pairs when the two runs share their parents (same parent digests): the
  difference then holds only what the change did (retraining noise included, estimated from
  the spread over seeds); otherwise each run's seeds are drawn independently (another machine
  class, other parents): parent noise enters on both sides.

Each resample's worsening is a monotone function of the current run's outcomes (one more
example wrong never makes it smaller) and the random draws depend only on the shapes, so the
lower bound — a fixed order statistic of the resamples — never falls when a regression grows:
the gate is monotone by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from robustprune.distributions import ERROR_TOLERANCE

OUTCOME_METRICS: tuple[str, ...] = (
    "nominal_pp",
    "shifted_pp_mean",
    "shifted_pp_min",
    "nominal_accuracy_change",
    "shifted_accuracy_change",
)
"""Summary metrics recomputable from per-example outcomes (higher is better for all)."""

GATE_RESAMPLES = 2000
GATE_CONFIDENCE = 0.95
"""One-sided: the lower bound is the 5th percentile of the resampled worsening."""


@dataclass(frozen=True)
class CaseOutcomes:
    """A case's per-example outcomes: ``parent[d]`` (S, N_d) and ``pruned[d]`` (S, R, N_d) bool,
    ``ratios`` (S, R) achieved prune ratios, and what the summary metrics need."""

    ratios: np.ndarray
    parent: Mapping[str, np.ndarray]
    pruned: Mapping[str, np.ndarray]
    delta: float
    nominal: str
    summary_shifts: tuple[str, ...]
    parent_digests: tuple[str, ...] = ()

    @property
    def num_seeds(self) -> int:
        return int(self.ratios.shape[0])

    def sizes(self) -> dict[str, int]:
        return {name: int(block.shape[-1]) for name, block in self.parent.items()}


def _per_seed(outcomes: CaseOutcomes, weights: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Each outcome metric per resample and seed, (B, S), under example weights (B, N) per size."""
    seeds, num_ratios = outcomes.ratios.shape
    potential: dict[str, np.ndarray] = {}
    change: dict[str, np.ndarray] = {}
    for name, parent in outcomes.parent.items():
        n = parent.shape[-1]
        rows = np.concatenate([parent[:, None, :], outcomes.pruned[name]], axis=1)
        rows = rows.reshape(seeds * (num_ratios + 1), n).astype(np.float32)
        # counts of right examples: integers below 2**24, so exact in float32 (twice as fast)
        right = (weights[n] @ rows.T).astype(np.float64)
        accuracy = (right / n).reshape(-1, seeds, num_ratios + 1)
        error = 1.0 - accuracy
        qualifies = error[..., 1:] <= error[..., :1] + outcomes.delta + ERROR_TOLERANCE
        potential[name] = np.where(qualifies, outcomes.ratios[None], 0.0).max(axis=-1, initial=0.0)
        change[name] = (accuracy[..., 1:] - accuracy[..., :1]).mean(axis=-1)
    values = {
        "nominal_pp": potential[outcomes.nominal],
        "nominal_accuracy_change": change[outcomes.nominal],
    }
    if outcomes.summary_shifts:
        stacked = np.stack([potential[name] for name in outcomes.summary_shifts])
        values["shifted_pp_mean"] = stacked.mean(axis=0)
        values["shifted_pp_min"] = stacked.min(axis=0)
        values["shifted_accuracy_change"] = np.stack(
            [change[name] for name in outcomes.summary_shifts]
        ).mean(axis=0)
    return values


def point_values(outcomes: CaseOutcomes) -> dict[str, float]:
    """The outcome metrics on the full test sets, mean over seeds (the record's summary means)."""
    weights = {n: np.ones((1, n), dtype=np.float32) for n in set(outcomes.sizes().values())}
    return {name: float(v.mean()) for name, v in _per_seed(outcomes, weights).items()}


def comparable(baseline: CaseOutcomes, current: CaseOutcomes) -> str | None:
    """Why two cases' outcomes cannot be resampled together, or None when they can."""
    if baseline.sizes() != current.sizes():
        return (
            f"their test sets differ (examples per distribution: baseline {baseline.sizes()}, "
            f"current {current.sizes()})"
        )
    if baseline.nominal != current.nominal or baseline.summary_shifts != current.summary_shifts:
        return (
            f"their summary shifts differ (baseline {list(baseline.summary_shifts)}, current "
            f"{list(current.summary_shifts)})"
        )
    return None


def shares_parents(baseline: CaseOutcomes, current: CaseOutcomes) -> bool:
    """True when both runs used the same parents, seed by seed (equal parent digests)."""
    return bool(baseline.parent_digests) and baseline.parent_digests == current.parent_digests


def worsening_resamples(
    baseline: CaseOutcomes,
    current: CaseOutcomes,
    *,
    num_resamples: int = GATE_RESAMPLES,
    seed: int = 0,
    seed_stream: int = 0,
) -> tuple[bool, dict[str, tuple[float, np.ndarray]]]:
    """``(paired, {metric: (worsening, resampled worsenings (B,))})``: baseline minus current
    for every outcome metric both define (all are better when higher), on the full data and
    under the joint bootstrap described in the module docstring.

    ``seed`` fixes the example draws (give every case of one test set the same one, so a mean
    over cases keeps them shared); ``seed_stream`` the seed draws (one per independent parent
    population, e.g. per architecture).
    """
    reason = comparable(baseline, current)
    if reason is not None:
        raise ValueError(f"cannot resample the two runs together: {reason}")
    paired = shares_parents(baseline, current) and baseline.num_seeds == current.num_seeds
    sizes = sorted(set(baseline.sizes().values()))
    example_rng = np.random.default_rng(seed)
    seed_rng = np.random.default_rng([seed, seed_stream])
    largest = max(sizes)
    chunk = max(1, min(num_resamples, 4_000_000 // largest))
    if largest >= 2**24:
        raise ValueError(f"{largest} test examples: counts would not be exact in float32")
    collected: dict[str, list[np.ndarray]] = {}
    for start in range(0, num_resamples, chunk):
        size = min(chunk, num_resamples - start)
        weights = {
            n: example_rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(np.float32)
            for n in sizes
        }
        drawn_base = seed_rng.integers(0, baseline.num_seeds, size=(size, baseline.num_seeds))
        drawn_now = (
            drawn_base
            if paired
            else seed_rng.integers(0, current.num_seeds, size=(size, current.num_seeds))
        )
        before = _per_seed(baseline, weights)
        after = _per_seed(current, weights)
        for name in before.keys() & after.keys():
            old = np.take_along_axis(before[name], drawn_base, axis=1).mean(axis=1)
            new = np.take_along_axis(after[name], drawn_now, axis=1).mean(axis=1)
            collected.setdefault(name, []).append(old - new)
    points_before, points_after = point_values(baseline), point_values(current)
    return paired, {
        name: (points_before[name] - points_after[name], np.concatenate(parts))
        for name, parts in collected.items()
    }


def bounds(resamples: np.ndarray, confidence: float = GATE_CONFIDENCE) -> tuple[float, float]:
    """One-sided ``(lower, upper)`` bounds at ``confidence`` each: order statistics of the
    resamples, so each moves monotonically with every resample."""
    alpha = 1.0 - confidence
    lower = float(np.percentile(resamples, 100 * alpha, method="lower"))
    upper = float(np.percentile(resamples, 100 * (1 - alpha), method="higher"))
    return lower, upper


def mean_resamples(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The resampled worsening of a mean over cases (e.g. a method over architectures)."""
    return np.mean(np.stack(parts), axis=0)
