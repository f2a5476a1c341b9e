"""The in-process phase timer behind benchmarks/bench_suite_profile.py."""

from __future__ import annotations

import time

from robustprune.phases import phase, phase_totals, reset_phases


def test_nested_phases_count_exclusive_time_under_the_enclosing_architecture():
    reset_phases()
    with phase("evaluation", arch="resnet20"):
        time.sleep(0.02)
        with phase("cache I/O"):
            time.sleep(0.05)
    with phase("shifted sets", arch=""):
        pass
    totals = phase_totals()
    assert set(totals) == {
        ("evaluation", "resnet20"),
        ("cache I/O", "resnet20"),
        ("shifted sets", ""),
    }
    outer, inner = totals[("evaluation", "resnet20")], totals[("cache I/O", "resnet20")]
    assert inner.wall_s >= 0.05
    assert 0.02 <= outer.wall_s < 0.05  # the nested 0.05 s is not counted twice
    assert (outer.count, inner.count) == (1, 1)


def test_a_failing_block_still_closes_its_phase():
    reset_phases()
    try:
        with phase("similarity", arch="vgg11_bn_slim"):
            raise ValueError("boom")
    except ValueError:
        pass
    with phase("latency"):
        pass
    assert ("latency", "") in phase_totals()  # not counted under the failed phase's arch
