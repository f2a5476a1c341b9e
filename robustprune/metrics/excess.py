"""Excess error: how much more a pruned network loses under shift than its parent does.

At prune ratio r: (err(pruned, D') - err(pruned, D)) - (err(parent, D') - err(parent, D)),
with D' the shifted sets (their mean error) and D the nominal set. Errors are fractions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _mean_over_shifts(values: float | Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    return array


def excess_error(
    pruned_nominal: Sequence[float],
    pruned_shifted: Sequence[float] | Sequence[Sequence[float]],
    parent_nominal: float,
    parent_shifted: float | Sequence[float],
) -> list[float]:
    """Excess error at each ratio (fractions; positive = the pruned net degrades more under shift).

    ``pruned_nominal`` has one nominal error per ratio (R,); ``pruned_shifted`` one error per
    ratio (R,) or per ratio and shift (R, S), averaged over shifts; ``parent_shifted`` is a
    float or (S,) errors averaged likewise.
    """
    nominal = _mean_over_shifts(pruned_nominal, "pruned_nominal")
    shifted = _mean_over_shifts(pruned_shifted, "pruned_shifted")
    parent_shift = _mean_over_shifts(parent_shifted, "parent_shifted")
    if nominal.ndim != 1:
        raise ValueError(
            f"pruned_nominal must be one error per ratio (R,), got shape {nominal.shape}"
        )
    if shifted.ndim == 2:
        shifted = shifted.mean(axis=1)
    if shifted.shape != nominal.shape:
        raise ValueError(
            f"pruned_shifted must have shape ({nominal.size},) or ({nominal.size}, S), "
            f"got {np.asarray(pruned_shifted, dtype=float).shape}"
        )
    if parent_shift.ndim > 1 or parent_shift.size == 0:
        raise ValueError(
            f"parent_shifted must be a float or (S,) errors, got shape {parent_shift.shape}"
        )
    parent_gap = float(parent_shift.mean()) - float(parent_nominal)
    return [float(v) for v in (shifted - nominal) - parent_gap]


def excess_error_slope(ratios: Sequence[float], excess: Sequence[float]) -> float:
    """Least-squares slope through the origin of excess error against prune ratio (error per unit ratio)."""
    x = np.asarray(ratios, dtype=float)
    y = np.asarray(excess, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"ratios and excess must be equal-length 1-D sequences, got shapes {x.shape} and {y.shape}"
        )
    denominator = float(np.dot(x, x))
    if denominator == 0.0:
        raise ValueError(
            f"excess_error_slope needs at least one nonzero prune ratio, got {x.tolist()}"
        )
    return float(np.dot(x, y) / denominator)
