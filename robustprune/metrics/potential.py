"""Prune potential P(delta, D): how far a network can be pruned before it gets worse on D.

P is the largest *evaluated* prune ratio whose top-1 error on D is at most the parent's error
on D plus ``delta`` (a fraction, 0.005 = half a percentage point). No interpolation between
ratios and no monotonicity of the curve is assumed; P is 0.0 when no ratio qualifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from robustprune.distributions import ERROR_TOLERANCE

DEFAULT_DELTA = 0.005


def _as_vector(values: Iterable[float], name: str) -> np.ndarray:
    array = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    return array


def check_delta(delta: float) -> None:
    """A ValueError unless ``delta`` is a finite fraction >= 0."""
    if not np.isfinite(delta) or delta < 0:
        raise ValueError(
            f"delta must be a finite fraction >= 0 (0.005 = 0.5 points), got {delta!r}"
        )


def prune_potential(
    ratios: Sequence[float],
    errors: Sequence[float],
    parent_error: float,
    delta: float = DEFAULT_DELTA,
) -> float:
    """Largest ratio in ``ratios`` whose error is <= ``parent_error + delta``; 0.0 if none.

    ``ratios`` are prune ratios in [0, 1]; ``errors`` the top-1 errors (fractions) of the pruned
    networks at those ratios, in the same order; for segmentation pass 1 - IoU.
    """
    ratio_array = _as_vector(ratios, "ratios")
    error_array = _as_vector(errors, "errors")
    if ratio_array.shape != error_array.shape:
        raise ValueError(
            f"ratios and errors must have the same length, got {ratio_array.size} ratios "
            f"and {error_array.size} errors"
        )
    if not np.isfinite(parent_error):
        raise ValueError(f"parent_error must be a finite fraction, got {parent_error!r}")
    check_delta(delta)
    qualifies = error_array <= parent_error + delta + ERROR_TOLERANCE
    if not qualifies.any():
        return 0.0
    return float(max(0.0, ratio_array[qualifies].max()))


def prune_potential_by_flops(
    flop_reductions: Sequence[float],
    errors: Sequence[float],
    parent_error: float,
    delta: float = DEFAULT_DELTA,
) -> float:
    """Prune potential measured in FLOP reduction: the largest qualifying FLOP reduction, 0.0 if none.

    Same rule as :func:`prune_potential`, with each network's FLOP reduction (fraction of the
    parent's multiply-accumulates removed) in place of its prune ratio.
    """
    return prune_potential(flop_reductions, errors, parent_error, delta)


def prune_potentials(
    ratios: Sequence[float],
    errors: Mapping[str, Sequence[float]],
    parent_errors: Mapping[str, float],
    delta: float = DEFAULT_DELTA,
) -> dict[str, float]:
    """Prune potential for every distribution in ``errors`` (name -> errors per ratio)."""
    missing = sorted(set(errors) - set(parent_errors))
    if missing:
        raise KeyError(
            f"parent_errors has no entry for distribution(s) {missing}; "
            f"it has {sorted(parent_errors)}"
        )
    return {
        name: prune_potential(ratios, values, parent_errors[name], delta)
        for name, values in errors.items()
    }


def aggregate_seeds(values: Sequence[float]) -> dict[str, Any]:
    """``{"values", "mean", "std"}`` over seeds; std is the sample standard deviation (0.0 for one seed)."""
    array = _as_vector(values, "values")
    if array.size == 0:
        raise ValueError("values must hold at least one seed's result, got an empty sequence")
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return {"values": [float(v) for v in array], "mean": float(array.mean()), "std": std}


def _potential_table(
    ratios: np.ndarray, errors: np.ndarray, parent_errors: np.ndarray, delta: float
) -> np.ndarray:
    """Vectorised P: ``errors`` (..., R), ``parent_errors`` (...), ``ratios`` broadcastable to errors."""
    qualifies = errors <= parent_errors[..., None] + delta + ERROR_TOLERANCE
    candidates = np.where(qualifies, np.broadcast_to(ratios, errors.shape), 0.0)
    return np.maximum(candidates.max(axis=-1, initial=0.0), 0.0)


def bootstrap_prune_potential(
    ratios: Sequence[float] | np.ndarray,
    parent_correct: np.ndarray,
    pruned_correct: np.ndarray,
    delta: float = DEFAULT_DELTA,
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of prune potential, resampling test examples.

    ``parent_correct`` is a bool array (N,) and ``pruned_correct`` (R, N), one row per ratio.
    With several seeds pass (S, N), (S, R, N) and ``ratios`` as (R,) or (S, R); each resample
    then yields the mean P over seeds. Examples are resampled with replacement (the same
    indices for every seed, since seeds share the test set) using a generator seeded by ``seed``.
    Returns (low, high) at the given ``confidence``; both ends are values some resample took.
    """
    parent = np.asarray(parent_correct, dtype=bool)
    pruned = np.asarray(pruned_correct, dtype=bool)
    ratio_array = np.asarray(ratios, dtype=float)
    if parent.ndim == 1 and pruned.ndim == 2:
        parent, pruned = parent[None], pruned[None]
    elif not (parent.ndim == 2 and pruned.ndim == 3):
        raise ValueError(
            "parent_correct/pruned_correct must have shapes (N,)/(R, N) or (S, N)/(S, R, N), "
            f"got {parent.shape}/{pruned.shape}"
        )
    seeds, num_ratios, num_examples = pruned.shape
    if parent.shape != (seeds, num_examples):
        raise ValueError(
            f"parent_correct shape {parent.shape} does not match pruned_correct shape "
            f"{pruned.shape}; expected {(seeds, num_examples)}"
        )
    if ratio_array.shape not in {(num_ratios,), (seeds, num_ratios)}:
        raise ValueError(
            f"ratios must have shape ({num_ratios},) or ({seeds}, {num_ratios}), got {ratio_array.shape}"
        )
    if num_examples == 0:
        raise ValueError("need at least one test example to bootstrap, got N = 0")
    if not isinstance(num_resamples, int) or num_resamples < 1:
        raise ValueError(f"num_resamples must be a positive integer, got {num_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    check_delta(delta)
    if ratio_array.ndim == 1:
        ratio_array = np.broadcast_to(ratio_array, (seeds, num_ratios))

    rng = np.random.default_rng(seed)
    # Rows: (seed, parent + ratios); resampled accuracy = counts @ correct / N.
    correct = np.concatenate([parent[:, None, :], pruned], axis=1).reshape(-1, num_examples)
    correct = correct.astype(np.float64)
    uniform = np.full(num_examples, 1.0 / num_examples)
    chunk = max(1, min(num_resamples, 4_000_000 // num_examples))
    potentials = []
    for start in range(0, num_resamples, chunk):
        size = min(chunk, num_resamples - start)
        counts = rng.multinomial(num_examples, uniform, size=size).astype(np.float64)
        errors = 1.0 - (counts @ correct.T).reshape(size, seeds, num_ratios + 1) / num_examples
        table = _potential_table(ratio_array, errors[..., 1:], errors[..., 0], delta)
        potentials.append(table.mean(axis=-1))
    values = np.concatenate(potentials)
    alpha = (1.0 - confidence) / 2.0
    low = float(np.percentile(values, 100 * alpha, method="lower"))
    high = float(np.percentile(values, 100 * (1 - alpha), method="higher"))
    return low, high


def safe_prune_potential(shifted: Mapping[str, float] | Iterable[float]) -> float:
    """The smallest prune potential over a suite's shifts (a mapping name -> P, or the values)."""
    values = list(shifted.values()) if isinstance(shifted, Mapping) else list(shifted)
    if not values:
        raise ValueError("safe_prune_potential needs at least one shifted distribution, got none")
    return float(min(values))


def prune_potential_gap(
    nominal: float, shifted: float | Mapping[str, float] | Iterable[float]
) -> float:
    """Nominal minus shifted prune potential; several shifted values are averaged first."""
    if isinstance(shifted, (int, float)):
        return float(nominal) - float(shifted)
    values = list(shifted.values()) if isinstance(shifted, Mapping) else list(shifted)
    if not values:
        raise ValueError("prune_potential_gap needs at least one shifted prune potential, got none")
    return float(nominal) - float(np.mean(values))
