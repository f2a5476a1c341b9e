"""One joint bootstrap for every interval of a record: test examples and seeds resampled together.

Each resample draws the seeds with replacement (when there are several) and the test examples
with replacement (the same indices for every seed and for every distribution of the same size,
so nominal and shifted sets stay paired), recomputes every seed's accuracies, prune potentials
and excess errors from per-example correctness, and averages over the drawn seeds. The 2.5th and
97.5th percentiles of the resampled values are the 95 % interval. Both ends are values some
resample took, so an interval of prune potential lies on the prune-ratio grid's seed means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from robustprune.distributions import ERROR_TOLERANCE, NOMINAL
from robustprune.metrics.potential import check_delta

Interval = tuple[float, float]


@dataclass(frozen=True)
class CaseIntervals:
    """Percentile intervals (low, high) of seed means; prune ratios and accuracies are fractions."""

    potential: dict[str, Interval]
    """Prune potential per distribution."""
    parent_accuracy: dict[str, Interval]
    """The parents' top-1 accuracy per distribution."""
    accuracy_change: dict[str, list[Interval]] = field(default_factory=dict)
    """Per distribution, per ratio: accuracy of the pruned nets minus their parents'."""
    summary: dict[str, Interval] = field(default_factory=dict)
    """``nominal_pp``, ``shifted_pp_mean``, ``shifted_pp_min``, ``gap``,
    ``nominal_accuracy_change``, ``shifted_accuracy_change``, ``flop_reduction_at_pp`` and
    ``excess_error_slope`` (the shifted ones and the latter two only when defined)."""
    mean_accuracy_change: dict[str, Interval] = field(default_factory=dict)
    """Per distribution: the mean over the grid of (pruned - parent) accuracy."""


def _percentiles(values: np.ndarray, confidence: float) -> Interval:
    alpha = (1.0 - confidence) / 2.0
    low = float(np.percentile(values, 100 * alpha, method="lower"))
    high = float(np.percentile(values, 100 * (1 - alpha), method="higher"))
    return low, high


def bootstrap_case(
    ratios: np.ndarray,
    parent_correct: Mapping[str, np.ndarray],
    pruned_correct: Mapping[str, np.ndarray],
    *,
    delta: float,
    nominal: str = NOMINAL,
    summary_shifts: Sequence[str] = (),
    excess_shifts: Sequence[str] = (),
    flop_reductions: np.ndarray | None = None,
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> CaseIntervals:
    """Intervals of a case's prune potentials and summary metrics under the joint bootstrap.

    ``ratios`` (S, R): achieved prune ratios per seed; ``parent_correct[d]`` (S, N_d) and
    ``pruned_correct[d]`` (S, R, N_d): per-example top-1 correctness on distribution d.
    ``summary_shifts`` are the shifts averaged into ``shifted_pp_mean``/``min`` and the gap
    (degenerate ones left out by the caller); ``excess_shifts`` those the excess error averages.
    ``flop_reductions`` (S, R) gives the FLOP reduction at each seed's nominal prune potential.
    """
    check_delta(delta)
    if not isinstance(num_resamples, int) or num_resamples < 1:
        raise ValueError(f"num_resamples must be a positive integer, got {num_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    ratios = np.asarray(ratios, dtype=float)
    if ratios.ndim != 2:
        raise ValueError(f"ratios must have shape (seeds, ratios), got {ratios.shape}")
    num_seeds, num_ratios = ratios.shape
    if nominal not in parent_correct:
        raise KeyError(f"parent_correct has no {nominal!r}; it has {sorted(parent_correct)}")
    correct: dict[str, np.ndarray] = {}
    for name, parent in parent_correct.items():
        parent = np.asarray(parent, dtype=bool)
        pruned = np.asarray(pruned_correct[name], dtype=bool)
        if parent.ndim != 2 or pruned.shape != (num_seeds, num_ratios, parent.shape[1]):
            raise ValueError(
                f"{name}: parent/pruned correctness shapes {parent.shape}/{pruned.shape} do not "
                f"match {num_seeds} seeds x {num_ratios} ratios"
            )
        if parent.shape[1] == 0:
            raise ValueError(f"{name}: need at least one test example to bootstrap, got N = 0")
        # rows: (seed, parent then each ratio)
        correct[name] = np.concatenate([parent[:, None, :], pruned], axis=1).reshape(
            num_seeds * (num_ratios + 1), -1
        )
    sizes = sorted({block.shape[1] for block in correct.values()})
    rng = np.random.default_rng(seed)
    largest = max(block.shape[0] for block in correct.values()) * max(sizes)
    chunk = max(1, min(num_resamples, 20_000_000 // max(1, largest)))

    collected: dict[str, list[np.ndarray]] = {}

    def keep(name: str, values: np.ndarray) -> None:
        collected.setdefault(name, []).append(values)

    for start in range(0, num_resamples, chunk):
        size = min(chunk, num_resamples - start)
        counts = {n: rng.multinomial(n, np.full(n, 1.0 / n), size=size) for n in sizes}
        if num_seeds > 1:
            drawn = rng.integers(0, num_seeds, size=(size, num_seeds))
        else:
            drawn = np.zeros((size, 1), dtype=int)

        def seed_mean(per_seed: np.ndarray, drawn: np.ndarray = drawn) -> np.ndarray:
            """(size, S) per-seed values -> (size,) mean over the drawn seeds."""
            return np.take_along_axis(per_seed, drawn, axis=1).mean(axis=1)

        errors: dict[str, np.ndarray] = {}
        potentials: dict[str, np.ndarray] = {}
        mean_changes: dict[str, np.ndarray] = {}
        for name, block in correct.items():
            n = block.shape[1]
            accuracy = (counts[n].astype(np.float64) @ block.T.astype(np.float64)) / n
            error = 1.0 - accuracy.reshape(size, num_seeds, num_ratios + 1)
            errors[name] = error
            qualifies = error[..., 1:] <= error[..., :1] + delta + ERROR_TOLERANCE
            table = np.where(qualifies, ratios[None], 0.0).max(axis=-1, initial=0.0)
            potentials[name] = np.maximum(table, 0.0)
            keep(f"potential:{name}", seed_mean(potentials[name]))
            keep(f"parent:{name}", seed_mean(1.0 - error[..., 0]))
            change = error[..., :1] - error[..., 1:]  # (size, S, R): pruned - parent accuracy
            keep(
                f"change:{name}",
                np.stack([seed_mean(change[..., r]) for r in range(num_ratios)], axis=1),
            )
            mean_changes[name] = change.mean(axis=-1)  # (size, S): the grid's mean per seed
            keep(f"mean_change:{name}", seed_mean(mean_changes[name]))
        keep("nominal_pp", seed_mean(potentials[nominal]))
        keep("nominal_accuracy_change", seed_mean(mean_changes[nominal]))
        if flop_reductions is not None:
            flops = np.asarray(flop_reductions, dtype=float)
            at = np.isclose(potentials[nominal][..., None], ratios[None]) & (
                potentials[nominal][..., None] > 0
            )
            keep("flop_reduction_at_pp", seed_mean(np.where(at, flops[None], 0.0).max(axis=-1)))
        if summary_shifts:
            stacked = np.stack([potentials[name] for name in summary_shifts])  # (D, size, S)
            shifted_mean = stacked.mean(axis=0)
            keep("shifted_pp_mean", seed_mean(shifted_mean))
            keep("shifted_pp_min", seed_mean(stacked.min(axis=0)))
            keep("gap", seed_mean(potentials[nominal] - shifted_mean))
            shifted_change = np.stack([mean_changes[name] for name in summary_shifts]).mean(0)
            keep("shifted_accuracy_change", seed_mean(shifted_change))
        if excess_shifts:
            shifted = np.stack([errors[name] for name in excess_shifts]).mean(axis=0)
            excess = (shifted - errors[nominal])[..., 1:] - (shifted - errors[nominal])[..., :1]
            denominator = (ratios**2).sum(axis=-1)
            slope = (excess * ratios[None]).sum(axis=-1) / np.where(denominator > 0, denominator, 1)
            keep("excess_error_slope", seed_mean(slope))

    changes = {
        name: np.concatenate(collected.pop(f"change:{name}")) for name in correct
    }  # (resamples, R)
    intervals = {
        name: _percentiles(np.concatenate(parts), confidence) for name, parts in collected.items()
    }
    return CaseIntervals(
        potential={n: intervals[f"potential:{n}"] for n in correct},
        parent_accuracy={n: intervals[f"parent:{n}"] for n in correct},
        accuracy_change={
            n: [_percentiles(changes[n][:, r], confidence) for r in range(num_ratios)]
            for n in correct
        },
        mean_accuracy_change={n: intervals[f"mean_change:{n}"] for n in correct},
        summary={
            name: intervals[name]
            for name in (
                "nominal_pp",
                "shifted_pp_mean",
                "shifted_pp_min",
                "gap",
                "nominal_accuracy_change",
                "shifted_accuracy_change",
                "flop_reduction_at_pp",
                "excess_error_slope",
            )
            if name in intervals
        },  # fmt: skip
    )


def degenerate_reason(
    parent_accuracy: float, interval: Interval, num_classes: int | None, delta: float
) -> str | None:
    """Why a distribution carries no prune-potential information, or None when it does.

    ``parent_accuracy`` is the parents' mean accuracy and ``interval`` its 95 % interval. It
    carries none when the interval's low end reaches chance + delta (chance =
    1 / num_classes): a pruned net at chance then "keeps" the parent's accuracy at any ratio.
    """
    if not num_classes or num_classes < 2:
        return None
    chance = 1.0 / num_classes
    low, high = interval
    if low <= chance + delta + ERROR_TOLERANCE:
        return (
            f"parent accuracy {parent_accuracy:.1%} (95% interval {low:.1%}–{high:.1%}) is not "
            f"clearly above chance {chance:.1%} + δ {delta:.1%}"
        )
    return None
