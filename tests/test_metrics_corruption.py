"""Corruption error summaries: mean error and AlexNet-normalized mCE."""

from __future__ import annotations

import pytest

from robustprune.metrics import (
    corruption_errors,
    group_corruption_errors,
    mean_corruption_error,
    normalized_mean_corruption_error,
    relative_mean_corruption_error,
)


def test_mean_corruption_error_averages_severities_then_corruptions():
    errors = {"fog": [0.1, 0.3], "snow": 0.5}
    assert mean_corruption_error(errors) == pytest.approx((0.2 + 0.5) / 2)


def test_normalized_mce_divides_summed_errors_by_the_baseline():
    errors = {"fog": [0.2, 0.4], "snow": [0.3, 0.3]}
    baseline = {"fog": [0.4, 0.8], "snow": [0.3, 0.3]}
    assert corruption_errors(errors, baseline) == pytest.approx({"fog": 0.5, "snow": 1.0})
    assert normalized_mean_corruption_error(errors, baseline) == pytest.approx(0.75)


def test_relative_mce_subtracts_clean_errors():
    # model degrades by 0.1 per severity, baseline by 0.4 -> 0.25
    value = relative_mean_corruption_error({"fog": [0.3, 0.3]}, 0.2, {"fog": [0.8, 0.8]}, 0.4)
    assert value == pytest.approx(0.25)


def test_baseline_must_cover_every_corruption():
    with pytest.raises(KeyError, match="snow"):
        normalized_mean_corruption_error({"fog": 0.2, "snow": 0.3}, {"fog": 0.4})
    with pytest.raises(ValueError, match="severities"):
        corruption_errors({"fog": [0.2, 0.3]}, {"fog": [0.4]})


def test_group_by_distribution_name_sorts_severities_and_skips_other_shifts():
    grouped = group_corruption_errors(
        {"nominal": 0.1, "corruption:fog:3": 0.3, "corruption:fog:1": 0.2, "noise:uniform:0.1": 0.5}
    )
    assert grouped == {"fog": [0.2, 0.3]}
    with pytest.raises(ValueError, match="corruption:<name>:<severity"):
        group_corruption_errors({"corruption:fog": 0.3})
