"""Corruption error summaries (Hendrycks & Dietterich 2019).

Errors are top-1 error fractions. Per corruption, a float is one severity's error and a
sequence holds the errors at several severities. Mean corruption error is the mean over
corruptions of each corruption's mean over severities; the normalized mCE divides each
corruption's summed error by a baseline network's (AlexNet for ImageNet-C) before averaging.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CorruptionErrors = Mapping[str, float | Sequence[float]]


def _severity_errors(errors: CorruptionErrors, name: str) -> dict[str, np.ndarray]:
    if not errors:
        raise ValueError(f"{name} must name at least one corruption, got none")
    table = {}
    for corruption, values in errors.items():
        array = np.atleast_1d(np.asarray(values, dtype=float))
        if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(
                f"{name}[{corruption!r}] must be an error or a list of errors per severity, got {values!r}"
            )
        table[corruption] = array
    return table


def mean_corruption_error(errors: CorruptionErrors) -> float:
    """Unnormalized mean error over corruptions (CIFAR-10-C practice), a fraction."""
    table = _severity_errors(errors, "errors")
    return float(np.mean([values.mean() for values in table.values()]))


def corruption_errors(errors: CorruptionErrors, baseline: CorruptionErrors) -> dict[str, float]:
    """Per-corruption CE: summed error over severities divided by the baseline's (1.0 = as bad as it)."""
    table = _severity_errors(errors, "errors")
    reference = _severity_errors(baseline, "baseline")
    missing = sorted(set(table) - set(reference))
    if missing:
        raise KeyError(
            f"baseline has no errors for corruption(s) {missing}; it has {sorted(reference)}"
        )
    result = {}
    for corruption, values in table.items():
        base = reference[corruption]
        if base.shape != values.shape:
            raise ValueError(
                f"corruption {corruption!r}: {values.size} severities in errors but {base.size} in baseline"
            )
        if base.sum() <= 0:
            raise ValueError(
                f"baseline error for corruption {corruption!r} must be > 0, got {base.tolist()}"
            )
        result[corruption] = float(values.sum() / base.sum())
    return result


def normalized_mean_corruption_error(errors: CorruptionErrors, baseline: CorruptionErrors) -> float:
    """mCE: mean over corruptions of :func:`corruption_errors` (AlexNet-normalized on ImageNet-C)."""
    return float(np.mean(list(corruption_errors(errors, baseline).values())))


def relative_mean_corruption_error(
    errors: CorruptionErrors,
    clean_error: float,
    baseline: CorruptionErrors,
    baseline_clean_error: float,
) -> float:
    """Relative mCE: degradation over the clean error, normalized by the baseline's degradation."""
    table = {
        name: np.atleast_1d(np.asarray(v, dtype=float)) - clean_error for name, v in errors.items()
    }
    reference = {
        name: np.atleast_1d(np.asarray(v, dtype=float)) - baseline_clean_error
        for name, v in baseline.items()
    }
    return normalized_mean_corruption_error(table, reference)


def group_corruption_errors(errors_by_distribution: Mapping[str, float]) -> dict[str, list[float]]:
    """Collect ``{"corruption:<name>:<severity>": error}`` into ``{name: errors by ascending severity}``.

    Distributions that are not ``corruption:`` shifts (nominal, noise, ...) are ignored.
    """
    grouped: dict[str, dict[int, float]] = {}
    for distribution, error in errors_by_distribution.items():
        parts = distribution.split(":")
        if parts[0] != "corruption":
            continue
        if len(parts) != 3 or not parts[2].isdigit():
            raise ValueError(
                f"corruption distribution names look like 'corruption:<name>:<severity 1-5>', "
                f"got {distribution!r}"
            )
        grouped.setdefault(parts[1], {})[int(parts[2])] = float(error)
    return {
        name: [by_severity[s] for s in sorted(by_severity)] for name, by_severity in grouped.items()
    }
