"""Excess error and its slope through the origin."""

from __future__ import annotations

import pytest

from robustprune.metrics import excess_error, excess_error_slope


def test_excess_error_matches_definition_with_one_shift():
    # parent: nominal 0.10, shifted 0.30 (gap 0.20); pruned gaps 0.20, 0.25, 0.40.
    values = excess_error([0.10, 0.11, 0.12], [0.30, 0.36, 0.52], 0.10, 0.30)
    assert values == pytest.approx([0.0, 0.05, 0.20])


def test_excess_error_averages_several_shifts():
    pruned_shifted = [[0.2, 0.4], [0.3, 0.5]]  # per ratio, per shift: means 0.3, 0.4
    values = excess_error([0.1, 0.1], pruned_shifted, 0.1, [0.2, 0.3])  # parent shifted mean 0.25
    assert values == pytest.approx([0.05, 0.15])


def test_pruned_net_that_degrades_less_has_negative_excess():
    assert excess_error([0.1], [0.15], 0.1, 0.3)[0] == pytest.approx(-0.15)


def test_excess_error_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="pruned_shifted"):
        excess_error([0.1, 0.1], [0.2], 0.1, 0.2)


def test_slope_through_origin_is_least_squares():
    ratios = [0.2, 0.5, 0.8]
    assert excess_error_slope(ratios, [0.02, 0.05, 0.08]) == pytest.approx(0.1)
    # sum(r*e)/sum(r^2) = (0.2*0 + 0.5*0.1 + 0.8*0.1) / (0.04 + 0.25 + 0.64)
    assert excess_error_slope(ratios, [0.0, 0.1, 0.1]) == pytest.approx(0.13 / 0.93)


def test_slope_needs_a_nonzero_ratio():
    with pytest.raises(ValueError, match="nonzero prune ratio"):
        excess_error_slope([0.0, 0.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="equal-length"):
        excess_error_slope([0.1], [0.1, 0.2])
