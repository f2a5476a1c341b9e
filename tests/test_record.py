"""build_record on synthetic measurements: intervals, degenerate shifts, provenance."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import robustprune.report
from robustprune.leaderboard import SCHEMA, SUPPORTED_SCHEMAS, environment_info, validate_record
from robustprune.metrics.bootstrap import bootstrap_case, degenerate_reason
from robustprune.record import build_record
from robustprune.results import CaseResult, Measurement, PointResult, SeedResult
from robustprune.suite_pruners import MethodSpec

RATIOS = [0.3, 0.5, 0.7, 0.9]
N = 400


def correct(accuracy: float, rng: np.random.Generator) -> torch.Tensor:
    """A bool vector of N examples with exactly round(accuracy * N) correct, shuffled."""
    hits = np.zeros(N, dtype=bool)
    hits[: round(accuracy * N)] = True
    return torch.from_numpy(rng.permutation(hits))


def evaluation(
    accuracy: float, rng: np.random.Generator, parent: torch.Tensor | None = None
) -> Measurement:
    """A pruned net errs where its parent does, plus on random extra examples (as real ones do)."""
    if parent is None:
        hits = correct(accuracy, rng)
    else:
        hits = parent.clone()
        lost = round((float(parent.float().mean()) - accuracy) * N)
        if lost > 0:
            hits[rng.choice(np.flatnonzero(parent.numpy()), lost, replace=False)] = False
    return Measurement(accuracy=float(hits.float().mean()), loss=1 - accuracy, correct=hits)


# accuracy of the parent and at each ratio, per distribution: nominal holds up to 0.7, the
# shift only to 0.3; "fog" leaves the parent at chance (10 classes), so it must be flagged.
CURVES = {
    "nominal": (0.95, [0.95, 0.95, 0.95, 0.80]),
    "corruption:gaussian_noise:3": (0.85, [0.85, 0.70, 0.60, 0.40]),
    "corruption:fog:3": (0.09, [0.10, 0.10, 0.10, 0.10]),
}


def case_result(seeds: int = 2) -> CaseResult:
    rng = np.random.default_rng(0)
    suite = SimpleNamespace(
        name="toy", dataset="toy", delta=0.005,
        thresholds_for=lambda method: SimpleNamespace(to_dict=lambda: {"nominal_pp": 0.0}),
        pruner_spec=lambda method: MethodSpec(method, method),
    )  # fmt: skip
    case = SimpleNamespace(suite=suite, arch="net", method="WT")
    results = []
    for seed in range(seeds):
        parent = {name: evaluation(curve[0], rng) for name, curve in CURVES.items()}
        points = [
            PointResult(
                target_ratio=ratio, prune_ratio=ratio, flop_reduction=ratio / 2,
                evaluation={
                    name: evaluation(curve[1][i], rng, parent[name].correct)
                    for name, curve in CURVES.items()
                },
            )
            for i, ratio in enumerate(RATIOS)
        ]  # fmt: skip
        results.append(
            SeedResult(seed, parent, points, None, None, {"parent_s": 1.0}, {"parent": "computed"})
        )
    return CaseResult(case, results, {}, False, False, environment_info(device="cpu", threads=1))


def test_degenerate_shift_is_flagged_and_left_out_of_the_summary() -> None:
    record = build_record(case_result(), num_classes=10)
    validate_record(record)
    assert record["schema"] == 2 and record["chance"] == pytest.approx(0.1)
    assert list(record["degenerate"]) == ["corruption:fog:3"]
    assert "not clearly above chance 10.0%" in record["degenerate"]["corruption:fog:3"]
    # fog "qualifies" at every ratio (0.9) but is not averaged in: mean = min = noise's 0.3
    assert record["prune_potential"]["corruption:fog:3"]["mean"] == pytest.approx(0.9)
    summary = record["summary"]
    assert summary["shifted_pp_mean"]["mean"] == pytest.approx(0.3)
    assert summary["shifted_pp_min"]["mean"] == pytest.approx(0.3)
    assert summary["gap"]["mean"] == pytest.approx(0.4)


def test_every_summary_metric_has_an_interval_around_its_mean() -> None:
    record = build_record(case_result(), num_classes=10)
    assert record["uncertainty"]["resampled"] == ["test examples", "seeds"]
    for name in ("nominal_pp", "shifted_pp_mean", "shifted_pp_min", "gap",
                 "flop_reduction_at_pp", "excess_error_slope"):  # fmt: skip
        stat = record["summary"][name]
        low, high = stat["ci"]
        assert low <= stat["mean"] + 1e-9 and stat["mean"] <= high + 1e-9, name
    assert record["summary"]["gap"]["ci"][0] > 0  # the gap is clearly positive here
    assert record["summary"]["similarity"] is None
    parent = record["parent"]["corruption:fog:3"]["accuracy_ci"]
    assert parent[0] < 0.1 + 0.005 < parent[1] or parent[1] <= 0.105


def test_without_num_classes_nothing_is_flagged() -> None:
    record = build_record(case_result(seeds=1))
    assert record["degenerate"] == {} and record["chance"] is None
    assert record["uncertainty"]["resampled"] == ["test examples"]
    assert record["summary"]["shifted_pp_mean"]["mean"] == pytest.approx(0.6)  # (0.3 + 0.9) / 2


def test_records_and_reports_share_the_leaderboard_schema_version() -> None:
    assert build_record(case_result(seeds=1))["schema"] == SCHEMA
    assert robustprune.report.SUPPORTED_SCHEMAS is SUPPORTED_SCHEMAS and SCHEMA in SUPPORTED_SCHEMAS


def test_records_carry_provenance() -> None:
    environment = build_record(case_result(seeds=1))["environment"]
    for field in ("git_commit", "git_dirty", "cpu", "host", "torch", "cuda", "threads"):
        assert field in environment, field
    assert len(environment["git_commit"]) == 40


def test_degenerate_reason() -> None:
    assert degenerate_reason(0.5, (0.45, 0.55), 10, 0.005) is None
    assert degenerate_reason(0.11, (0.09, 0.13), 10, 0.005) is not None
    assert degenerate_reason(0.11, (0.104, 0.13), 10, 0.005) is not None  # within δ of chance
    assert degenerate_reason(0.11, (0.09, 0.13), None, 0.005) is None


def test_the_bootstrap_pairs_nominal_and_shifted_examples() -> None:
    """Shifted = nominal correctness: every resample gives gap 0, so the interval is [0, 0]."""
    rng = np.random.default_rng(1)
    parent = rng.random((2, 300)) < 0.9
    pruned = np.stack([parent & (rng.random((2, 300)) < p) for p in (1.0, 0.99, 0.9)], axis=1)
    intervals = bootstrap_case(
        np.array([RATIOS[:3], RATIOS[:3]]),
        {"nominal": parent, "shift": parent},
        {"nominal": pruned, "shift": pruned},
        delta=0.005, summary_shifts=["shift"], num_resamples=200,
    )  # fmt: skip
    assert intervals.summary["gap"] == (0.0, 0.0)
    assert intervals.potential["nominal"] == intervals.potential["shift"]
    low, high = intervals.summary["nominal_pp"]
    assert 0.0 <= low <= high <= 0.7


def test_similarity_is_keyed_by_ratio_text_only_in_the_record() -> None:
    """Curves the harness keys by the ratio (a number) are written with 4-decimal text keys, and
    the summary uses the measured ratio nearest each seed's nominal PP (0.7 -> 0.75 here)."""
    result = case_result()
    for seed in result.seeds:
        seed.similarity = {
            "eps": [0.0, 0.7],
            "ratios": [0.25, 0.75],
            "agreement": {0.25: [1.0, 0.9], 0.75: [1.0, 0.5]},
            "softmax_l2": {0.25: [0.0, 0.1], 0.75: [0.0, 0.3]},
            "reference": None,
        }
    record = build_record(result, num_classes=10)
    validate_record(record)
    similarity = record["similarity"]
    assert list(similarity["agreement"]) == ["0.2500", "0.7500"]
    assert list(similarity["softmax_l2"]) == ["0.2500", "0.7500"]
    assert similarity["eps"] == [0.0, 0.7] and similarity["reference"] is None
    assert record["summary"]["similarity"]["mean"] == pytest.approx(0.75)
