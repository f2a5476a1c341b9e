"""How a distribution's name is shown: a title, a figure's tick, a table's column."""

from __future__ import annotations

from robustprune.distributions import (
    NOMINAL,
    distribution_label,
    short_distribution,
    tick_label,
)
from robustprune.thresholds import describe_curve


def test_each_form_of_a_distribution_name() -> None:
    fog, noise = "corruption:gaussian_noise:3", "noise:uniform:0.1"
    assert distribution_label(fog) == "gaussian_noise (severity 3)"
    assert distribution_label(noise) == "uniform noise ε=0.1"
    assert tick_label(fog) == "gaussian noise 3"
    assert tick_label(noise) == "noise ε=0.1"
    assert short_distribution(fog) == "gaussian_noise:3"
    assert short_distribution(noise) == "uniform:0.1"
    for form in (distribution_label, tick_label, short_distribution):
        assert form(NOMINAL) == NOMINAL
        assert form("frost") == "frost"


def test_a_failing_case_shows_its_curve_under_the_short_names() -> None:
    record = {
        "distributions": [NOMINAL, "corruption:fog:3"],
        "parent": {NOMINAL: {"accuracy": [0.9]}, "corruption:fog:3": {"accuracy": [0.7]}},
        "curve": [[{"prune_ratio": 0.5, "flop_reduction": 0.4, "accuracy": {NOMINAL: 0.89, "corruption:fog:3": 0.6}}]],
        "delta": 0.01, "seeds": [0], "suite": "s", "arch": "a", "method": "WT",
    }  # fmt: skip
    header = describe_curve(record).splitlines()[1]
    assert "fog:3" in header and "corruption" not in header
