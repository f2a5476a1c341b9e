"""Calibration: does a network's confidence match how often it is right?

Expected calibration error (ECE) with equal-width confidence bins: the bin-size-weighted mean
of |accuracy(bin) - mean confidence(bin)|, a fraction in [0, 1]. Bins are (lo, hi] intervals
over [0, 1]; a confidence of exactly 0 falls in the first bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_BINS = 15


@dataclass(frozen=True)
class CalibrationBins:
    """Per-bin statistics (lists of length ``num_bins``); empty bins have count 0 and NaN means."""

    edges: list[float]
    counts: list[int]
    accuracy: list[float]
    confidence: list[float]


def _as_numpy(values: np.ndarray | torch.Tensor | list, dtype: type) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def calibration_bins(
    confidences: np.ndarray | torch.Tensor,
    correct: np.ndarray | torch.Tensor,
    num_bins: int = DEFAULT_BINS,
) -> CalibrationBins:
    """Bin predictions by confidence (probability of the predicted class, in [0, 1])."""
    confidence = _as_numpy(confidences, float)
    hits = _as_numpy(correct, bool)
    if confidence.ndim != 1 or confidence.shape != hits.shape:
        raise ValueError(
            f"confidences and correct must be equal-length 1-D arrays, got shapes "
            f"{confidence.shape} and {hits.shape}"
        )
    if confidence.size and (
        confidence.min() < 0 or confidence.max() > 1 or np.isnan(confidence).any()
    ):
        raise ValueError(
            f"confidences must be probabilities in [0, 1], got range [{confidence.min()}, {confidence.max()}]"
        )
    if not isinstance(num_bins, int) or num_bins < 1:
        raise ValueError(f"num_bins must be a positive integer, got {num_bins!r}")
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, num_bins - 1)
    counts = np.bincount(index, minlength=num_bins)
    hit_sums = np.bincount(index, weights=hits.astype(float), minlength=num_bins)
    confidence_sums = np.bincount(index, weights=confidence, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = hit_sums / counts
        mean_confidence = confidence_sums / counts
    return CalibrationBins(
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        accuracy=[float(a) for a in accuracy],
        confidence=[float(c) for c in mean_confidence],
    )


def calibration_error(
    confidences: np.ndarray | torch.Tensor,
    correct: np.ndarray | torch.Tensor,
    num_bins: int = DEFAULT_BINS,
) -> float:
    """ECE from per-example confidences in [0, 1] and correctness flags."""
    bins = calibration_bins(confidences, correct, num_bins)
    total = sum(bins.counts)
    if total == 0:
        raise ValueError("calibration_error needs at least one prediction, got none")
    return float(
        sum(
            count / total * abs(accuracy - confidence)
            for count, accuracy, confidence in zip(
                bins.counts, bins.accuracy, bins.confidence, strict=True
            )
            if count
        )
    )


def expected_calibration_error(
    logits: torch.Tensor, labels: torch.Tensor, num_bins: int = DEFAULT_BINS
) -> float:
    """ECE (fraction) of a classifier from its N×K logits and the N true labels; 15 bins by default."""
    if logits.dim() != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(
            f"logits must be N×K and labels (N,), got shapes {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    probabilities = logits.detach().float().softmax(dim=1)
    confidence, predicted = probabilities.max(dim=1)
    correct = predicted.cpu() == labels.detach().cpu()
    return calibration_error(confidence.cpu(), correct, num_bins)
