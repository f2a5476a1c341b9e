"""Metrics beyond test accuracy: prune potential, excess error, similarity, features, calibration, cost.

Everything here works on plain numbers, arrays and ``nn.Module`` classifiers (normalized
N×C×H×W inputs -> logits); nothing needs pytest. Ratios, errors and accuracies are fractions.
"""

from __future__ import annotations

from robustprune.metrics.calibration import (
    CalibrationBins,
    calibration_bins,
    calibration_error,
    expected_calibration_error,
)
from robustprune.metrics.corruption import (
    corruption_errors,
    group_corruption_errors,
    mean_corruption_error,
    normalized_mean_corruption_error,
    relative_mean_corruption_error,
)
from robustprune.metrics.cost import (
    flop_reduction,
    flops,
    flops_by_layer,
)
from robustprune.metrics.excess import excess_error, excess_error_slope
from robustprune.metrics.exemplars import (
    count_pruning_identified_exemplars,
    modal_labels,
    pruning_identified_exemplars,
)
from robustprune.metrics.features import (
    BackwardSelection,
    CrossConfidence,
    backward_selection,
    cross_confidence,
    sufficient_input_subsets,
    top_pixel_masks,
)
from robustprune.metrics.potential import (
    DEFAULT_DELTA,
    aggregate_seeds,
    bootstrap_prune_potential,
    prune_potential,
    prune_potential_by_flops,
    prune_potential_gap,
    prune_potentials,
    safe_prune_potential,
)
from robustprune.metrics.similarity import (
    DEFAULT_EPSILONS,
    NoiseSimilarity,
    noise_similarities,
    noise_similarity,
)

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_EPSILONS",
    "BackwardSelection",
    "CalibrationBins",
    "CrossConfidence",
    "NoiseSimilarity",
    "aggregate_seeds",
    "backward_selection",
    "bootstrap_prune_potential",
    "calibration_bins",
    "calibration_error",
    "corruption_errors",
    "count_pruning_identified_exemplars",
    "cross_confidence",
    "excess_error",
    "excess_error_slope",
    "expected_calibration_error",
    "flop_reduction",
    "flops",
    "flops_by_layer",
    "group_corruption_errors",
    "mean_corruption_error",
    "modal_labels",
    "noise_similarities",
    "noise_similarity",
    "normalized_mean_corruption_error",
    "prune_potential",
    "prune_potential_by_flops",
    "prune_potential_gap",
    "prune_potentials",
    "pruning_identified_exemplars",
    "relative_mean_corruption_error",
    "safe_prune_potential",
    "sufficient_input_subsets",
    "top_pixel_masks",
]
