"""Prune potential: hand-built curves with known answers, properties, seeds, bootstrap, derived values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robustprune.metrics import (
    aggregate_seeds,
    bootstrap_prune_potential,
    prune_potential,
    prune_potential_by_flops,
    prune_potential_gap,
    prune_potentials,
    safe_prune_potential,
)

RATIOS = [0.2, 0.4, 0.6, 0.8, 0.9]


def test_monotone_curve_stops_at_last_ratio_within_delta():
    errors = [0.100, 0.102, 0.104, 0.110, 0.200]
    assert prune_potential(RATIOS, errors, parent_error=0.100) == 0.6


def test_exactly_at_parent_plus_delta_qualifies():
    # 0.105 is not exactly representable; the boundary must still count as "within delta".
    assert prune_potential([0.5], [0.105], parent_error=0.1, delta=0.005) == 0.5


def test_non_monotone_curve_takes_largest_qualifying_ratio_even_after_a_bad_one():
    errors = [0.100, 0.130, 0.101, 0.200, 0.300]
    assert prune_potential(RATIOS, errors, parent_error=0.100) == 0.6


def test_ratios_need_not_be_sorted():
    assert prune_potential([0.9, 0.2, 0.6], [0.3, 0.1, 0.1], parent_error=0.1) == 0.6


def test_none_qualifies_gives_zero():
    assert prune_potential(RATIOS, [0.2] * 5, parent_error=0.1) == 0.0
    assert prune_potential([], [], parent_error=0.1) == 0.0


def test_pruned_better_than_parent_qualifies_everywhere():
    assert prune_potential(RATIOS, [0.05] * 5, parent_error=0.1) == 0.9


def test_delta_widens_the_band():
    errors = [0.10, 0.11, 0.12, 0.13, 0.14]
    assert prune_potential(RATIOS, errors, 0.10, delta=0.0) == 0.2
    assert prune_potential(RATIOS, errors, 0.10, delta=0.02) == 0.6


def test_by_flops_uses_flop_reductions():
    assert prune_potential_by_flops([0.1, 0.5, 0.7], [0.1, 0.1, 0.5], parent_error=0.1) == 0.5


def test_per_distribution_and_missing_parent():
    result = prune_potentials(
        [0.5, 0.9],
        {"nominal": [0.10, 0.10], "corruption:fog:3": [0.30, 0.40]},
        {"nominal": 0.10, "corruption:fog:3": 0.30},
    )
    assert result == {"nominal": 0.9, "corruption:fog:3": 0.5}
    with pytest.raises(KeyError, match="corruption:fog:3"):
        prune_potentials([0.5], {"corruption:fog:3": [0.3]}, {"nominal": 0.1})


@pytest.mark.parametrize(
    ("ratios", "errors", "delta", "match"),
    [
        ([0.1, 0.2], [0.1], 0.005, "same length"),
        ([0.1], [float("nan")], 0.005, "finite"),
        ([0.1], [0.1], -0.1, "delta"),
    ],
)
def test_bad_inputs_are_named(ratios, errors, delta, match):
    with pytest.raises(ValueError, match=match):
        prune_potential(ratios, errors, 0.1, delta)


curves = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
        st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n),
        st.floats(0.0, 1.0),
    )
)


@settings(max_examples=100, deadline=None)
@given(curves, st.floats(0.0, 0.2))
def test_potential_is_an_evaluated_ratio_or_zero(curve, delta):
    ratios, errors, parent_error = curve
    potential = prune_potential(ratios, errors, parent_error, delta)
    assert potential == 0.0 or potential in ratios
    # The documented 1e-9 round-off allowance is far below 1/N for any realistic test set.
    qualifying = [
        r for r, e in zip(ratios, errors, strict=True) if e <= parent_error + delta + 1e-9
    ]
    assert potential == max(qualifying, default=0.0)


@settings(max_examples=100, deadline=None)
@given(curves, st.floats(0.0, 0.2), st.floats(0.0, 0.2))
def test_potential_grows_with_delta(curve, delta_a, delta_b):
    ratios, errors, parent_error = curve
    small, large = sorted((delta_a, delta_b))
    assert prune_potential(ratios, errors, parent_error, small) <= prune_potential(
        ratios, errors, parent_error, large
    )


def test_aggregate_seeds_uses_sample_std():
    summary = aggregate_seeds([0.85, 0.8])
    assert summary["values"] == [0.85, 0.8]
    assert summary["mean"] == pytest.approx(0.825)
    assert summary["std"] == pytest.approx(0.0353553, abs=1e-6)
    assert aggregate_seeds([0.5])["std"] == 0.0
    with pytest.raises(ValueError, match="at least one"):
        aggregate_seeds([])


def _correctness(rng, accuracy, n):
    return rng.random(n) < accuracy


def test_bootstrap_interval_brackets_a_clear_potential_and_is_reproducible():
    rng = np.random.default_rng(1)
    n = 2000
    parent = _correctness(rng, 0.90, n)
    # Ratios 0.3/0.6 are clearly within delta (identical predictions), 0.9 clearly worse.
    pruned = np.stack([parent, parent, _correctness(rng, 0.60, n)])
    ratios = [0.3, 0.6, 0.9]
    low, high = bootstrap_prune_potential(ratios, parent, pruned, num_resamples=200, seed=3)
    assert (low, high) == (0.6, 0.6)
    again = bootstrap_prune_potential(ratios, parent, pruned, num_resamples=200, seed=3)
    assert again == (low, high)


def test_bootstrap_interval_is_wide_near_the_threshold():
    rng = np.random.default_rng(2)
    n = 400
    parent = _correctness(rng, 0.9, n)
    # Flip ~0.5% of parent-correct examples: the 0.8 network sits right at parent + delta.
    borderline = parent.copy()
    borderline[np.flatnonzero(parent)[:2]] = False
    pruned = np.stack([parent, borderline])
    low, high = bootstrap_prune_potential(
        [0.4, 0.8], parent, pruned, delta=0.004, num_resamples=300
    )
    assert low == 0.4 and high == 0.8


def test_bootstrap_over_seeds_returns_interval_of_the_mean():
    rng = np.random.default_rng(4)
    n = 1000
    parents = np.stack([_correctness(rng, 0.9, n), _correctness(rng, 0.9, n)])
    pruned = np.stack([np.stack([parents[0], parents[0]]), np.stack([parents[1], ~parents[1]])])
    low, high = bootstrap_prune_potential([0.5, 0.8], parents, pruned, num_resamples=100)
    # Seed 0 reaches 0.8, seed 1 only 0.5 -> mean 0.65 in every resample.
    assert low == pytest.approx(0.65) and high == pytest.approx(0.65)


def test_bootstrap_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="parent_correct shape"):
        bootstrap_prune_potential([0.5], np.ones(10, bool), np.ones((1, 11), bool))
    with pytest.raises(ValueError, match="ratios must have shape"):
        bootstrap_prune_potential([0.5, 0.6], np.ones(10, bool), np.ones((1, 10), bool))


def test_safe_potential_and_gap():
    shifted = {
        "corruption:fog:3": 0.6,
        "corruption:gaussian_noise:3": 0.0,
        "noise:uniform:0.1": 0.3,
    }
    assert safe_prune_potential(shifted) == 0.0
    assert prune_potential_gap(0.85, shifted) == pytest.approx(0.85 - 0.3)
    assert prune_potential_gap(0.85, 0.45) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="at least one"):
        safe_prune_potential({})
