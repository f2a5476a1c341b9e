"""The in-process phase timer behind benchmarks/bench_suite_profile.py."""

from __future__ import annotations

import time

from robustprune.phases import PhaseTotal, phase, phase_totals, reset_phases


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


def test_the_profile_table_adds_up_to_the_run_and_names_work_outside_phases():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_suite_profile.py"
    spec = importlib.util.spec_from_file_location("bench_suite_profile", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    totals = {
        ("retraining", "resnet20"): PhaseTotal(wall_s=6.0, cpu_s=3.0, count=7),
        ("retraining", "wrn16_2"): PhaseTotal(wall_s=2.0, cpu_s=1.0, count=7),
        ("shifted sets", ""): PhaseTotal(wall_s=1.0, cpu_s=0.5, count=1),
    }
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in module.profile_table(totals, wall_s=10.0, cpu_s=5.0).splitlines()[2:]
    }
    # columns: resnet20, wrn16_2, shared, CPU s, wall s, share of wall
    assert rows["retraining"] == ["3.0", "1.0", "", "4.0", "8.0", "80.0%"]
    assert rows["shifted sets"][2:] == ["0.5", "0.5", "1.0", "10.0%"]
    assert rows["outside phases"][-3:] == ["0.5", "1.0", "10.0%"]
