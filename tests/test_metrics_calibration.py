"""Expected calibration error (15 equal-width bins)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robustprune.metrics import calibration_bins, calibration_error, expected_calibration_error


def test_perfectly_calibrated_synthetic_predictor_has_near_zero_ece():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1.0, 200_000)
    correct = rng.random(confidence.size) < confidence  # right with probability = confidence
    assert calibration_error(confidence, correct) < 0.01


def test_overconfident_predictor_has_the_expected_ece():
    confidence = np.full(1000, 0.9)
    correct = np.arange(1000) < 600  # 60 % right at 90 % confidence
    assert calibration_error(confidence, correct) == pytest.approx(0.3)


def test_bins_are_fifteen_equal_width_half_open_intervals():
    bins = calibration_bins(np.array([0.0, 1 / 15, 1 / 15 + 1e-6, 1.0]), np.array([1, 0, 1, 1]))
    assert len(bins.counts) == 15 and bins.edges[1] == pytest.approx(1 / 15)
    assert bins.counts[0] == 2 and bins.counts[1] == 1 and bins.counts[14] == 1


def test_ece_from_logits_uses_softmax_confidence():
    # Two classes; logits give confidence 0.8 on class 0 for every example; 80 % are class 0.
    logit = float(np.log(0.8 / 0.2))
    logits = torch.tensor([[logit, 0.0]] * 10)
    labels = torch.tensor([0] * 8 + [1] * 2)
    assert expected_calibration_error(logits, labels) == pytest.approx(0.0, abs=1e-6)
    assert expected_calibration_error(logits, torch.zeros(10, dtype=torch.long)) == pytest.approx(
        0.2
    )


def test_bad_confidences_are_rejected():
    with pytest.raises(ValueError, match="probabilities"):
        calibration_error(np.array([1.5]), np.array([True]))
    with pytest.raises(ValueError, match="num_bins"):
        calibration_error(np.array([0.5]), np.array([True]), num_bins=0)
