"""Per-example outcomes in records and the gate built on them (paired when parents match)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robustprune.leaderboard import (
    compare,
    environment_info,
    make_leaderboard,
    parse_gate,
    render_comparison,
    validate_record,
)
from robustprune.leaderboard.outcomes import case_outcomes, pack, unpack
from robustprune.leaderboard.resample import point_values
from robustprune.record import build_record
from robustprune.results import CaseResult, Measurement, PointResult, SeedResult
from robustprune.suite_pruners import MethodSpec

RATIOS = [0.3, 0.58, 0.75, 0.85, 0.91]
N = 300
SHIFTS = ["corruption:snow:3", "corruption:pixelate:3"]
DISTRIBUTIONS = ["nominal", *SHIFTS]


def outcomes(seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Parent (S, N) and pruned (S, R, N) correctness: pruned nets err where the parent does
    and on more examples the harder they are pruned, more so on the shifts."""
    rng = np.random.default_rng(seed)
    parent, pruned = {}, {}
    for name in DISTRIBUTIONS:
        base = 0.97 if name == "nominal" else 0.9
        parent[name] = rng.random((2, N)) < base
        loss = np.array(RATIOS) ** 4 * (0.1 if name == "nominal" else 0.3)
        keep = rng.random((2, len(RATIOS), N)) >= loss[None, :, None]
        pruned[name] = parent[name][:, None, :] & keep
    return parent, pruned


def record(parent: dict[str, np.ndarray], pruned: dict[str, np.ndarray]) -> dict[str, Any]:
    suite = SimpleNamespace(
        name="toy", dataset="toy", delta=0.03,
        thresholds_for=lambda method: SimpleNamespace(to_dict=lambda: {"nominal_pp": 0.0}),
        pruner_spec=lambda method: MethodSpec(method, method),
    )  # fmt: skip
    case = SimpleNamespace(suite=suite, arch="net", method="WT")

    def measured(bits: np.ndarray) -> Measurement:
        accuracy = float(bits.mean())
        return Measurement(accuracy, 1 - accuracy, torch.from_numpy(bits.copy()))

    seeds = [
        SeedResult(
            seed,
            {name: measured(parent[name][seed]) for name in DISTRIBUTIONS},
            [
                PointResult(
                    ratio,
                    ratio,
                    ratio / 2,
                    {name: measured(pruned[name][seed, i]) for name in DISTRIBUTIONS},
                )
                for i, ratio in enumerate(RATIOS)
            ],  # fmt: skip
            None,
            None,
            {"parent_s": 1.0},
            {"parent": "computed"},
        )  # fmt: skip
        for seed in range(2)
    ]
    result = CaseResult(case, seeds, {}, False, False, environment_info(device="cpu", threads=1))
    return build_record(result, num_classes=10)


def board(*records: dict[str, Any]) -> dict[str, Any]:
    return make_leaderboard(records, environment={"device": "cpu"}, created="2026-01-01T00:00:00")


def inject(pruned: dict[str, np.ndarray], names: list[str], fraction: float, seed: int = 1):
    """A regression: each pruned net gets ``fraction`` of its examples wrong in addition."""
    rng = np.random.default_rng(seed)
    out = {name: block.copy() for name, block in pruned.items()}
    draws = rng.random(pruned[names[0]].shape)
    for name in names:
        out[name] &= draws >= fraction
    return out


@pytest.mark.parametrize("size", [1, 7, 8, 9, 449, 10000])
def test_outcome_bits_round_trip(size: int) -> None:
    bits = np.random.default_rng(size).random(size) < 0.5
    text = pack(bits)
    assert np.array_equal(unpack(text, size), bits)
    assert len(text) == 4 * -(-((size + 7) // 8) // 3)
    with pytest.raises(ValueError, match="outcome bits hold"):
        unpack(text, size + 8)


def test_records_carry_outcomes_that_reproduce_their_summary() -> None:
    parent, pruned = outcomes(0)
    made = record(parent, pruned)
    validate_record(made)
    read = case_outcomes(made)
    assert (
        read is not None and read.num_seeds == 2 and read.sizes() == dict.fromkeys(DISTRIBUTIONS, N)
    )
    assert np.array_equal(read.parent["nominal"], parent["nominal"])
    assert np.array_equal(read.pruned[SHIFTS[1]], pruned[SHIFTS[1]])
    points = point_values(read)
    for metric in ("nominal_pp", "shifted_pp_mean", "shifted_pp_min",
                   "nominal_accuracy_change", "shifted_accuracy_change"):  # fmt: skip
        assert points[metric] == pytest.approx(made["summary"][metric]["mean"]), metric
    change = made["mean_accuracy_change"]["nominal"]
    assert change["values"][0] == pytest.approx(
        (pruned["nominal"][0].mean(1) - parent["nominal"][0].mean()).mean()
    )
    low, high = made["summary"]["nominal_accuracy_change"]["ci"]
    assert low <= change["mean"] <= high
    assert len(set(made["outcomes"]["parents"])) == 2


def test_shared_parents_give_a_paired_gate_that_passes_an_unchanged_run() -> None:
    parent, pruned = outcomes(0)
    baseline = record(parent, pruned)
    comparison = compare(board(baseline), board(copy.deepcopy(baseline)))
    assert comparison.changes == [] and comparison.notes == []
    gates = [parse_gate("prune_potential:0"), parse_gate("accuracy_change:0"), parse_gate("gap:0")]
    assert comparison.gate_failures(gates) == []


def test_a_paired_gate_catches_a_one_point_accuracy_drop() -> None:
    parent, pruned = outcomes(0)
    baseline, current = record(parent, pruned), record(parent, inject(pruned, DISTRIBUTIONS, 0.02))
    comparison = compare(board(baseline), board(current))
    change = next(c for c in comparison.changes if c.metric == "nominal_accuracy_change")
    assert change.method == "paired"
    assert 0.01 < change.worsening < 0.03 and change.lower > 0.01
    assert comparison.gate_failures([parse_gate("accuracy_change:1%")])
    assert "paired" in render_comparison(comparison)


def test_other_parents_give_a_per_example_gate_and_a_broken_pruner_fails_it() -> None:
    baseline = record(*outcomes(0))
    parent, pruned = outcomes(1)
    broken = {name: np.zeros_like(block) for name, block in pruned.items()}
    neutral, failed = record(parent, pruned), record(parent, broken)
    comparison = compare(board(baseline), board(neutral))
    assert {c.method for c in comparison.changes} <= {"per example", "seed level"}
    gates = [
        parse_gate("prune_potential:5%"),
        parse_gate("gap:5%"),
        parse_gate("accuracy_change:1%"),
    ]
    assert comparison.gate_failures(gates) == []
    failures = compare(board(baseline), board(failed)).gate_failures(gates)
    assert any("(gap)" in failure for failure in failures)
    assert any("(nominal_pp)" in failure for failure in failures)


def test_a_baseline_without_outcomes_compares_at_seed_level_with_a_note() -> None:
    parent, pruned = outcomes(0)
    baseline = record(parent, pruned)
    del baseline["outcomes"]
    for name in ("nominal_accuracy_change", "shifted_accuracy_change"):
        del baseline["summary"][name]
    current = record(parent, inject(pruned, DISTRIBUTIONS, 0.05))
    comparison = compare(board(baseline), board(current))
    assert {c.method for c in comparison.changes} == {"seed level"}
    text = render_comparison(comparison, [parse_gate("accuracy_change:1%")])
    assert "the baseline's records have no per-example outcomes" in text
    assert "gate accuracy_change:1% compared nothing for nominal_accuracy_change" in text


@settings(max_examples=15, deadline=None)
@given(
    small=st.floats(0.0, 0.2),
    extra=st.floats(0.0, 0.2),
    where=st.sampled_from([["nominal"], SHIFTS, DISTRIBUTIONS]),
    other_parents=st.booleans(),
    gate=st.sampled_from(
        [
            "prune_potential:0",
            "prune_potential:5%",
            "gap:2%",
            "accuracy_change:0.5%",
            "shifted_pp_min:0",
        ]
    ),  # fmt: skip
)
def test_a_larger_injected_regression_never_passes_where_a_smaller_one_fails(
    small: float, extra: float, where: list[str], other_parents: bool, gate: str
) -> None:
    """The injected sets are nested (the same draws, a larger threshold)."""
    baseline = board(record(*outcomes(0)))
    parent, pruned = outcomes(1 if other_parents else 0)

    def failed(fraction: float) -> bool:
        current = board(record(parent, inject(pruned, where, fraction)))
        return bool(compare(baseline, current).failures([parse_gate(gate)]))

    if failed(small):
        assert failed(small + extra)
