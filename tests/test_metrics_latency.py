"""Measured speed: latency medians, the harness's cached latency at PP, the record's speedup."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from robustprune.cache import ArtifactStore
from robustprune.harness import CaseRunner
from robustprune.leaderboard import render_text, validate_record
from robustprune.metrics import latency as latency_module
from robustprune.metrics.latency import compare_latency, measure_latencies
from robustprune.record import build_record
from robustprune.results import Measurement, PointResult, SeedResult
from robustprune.suite_pruners import MethodSpec


def conv(width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


def test_medians_interleave_the_models_and_skip_the_warmup(monkeypatch) -> None:
    calls: list[int] = []
    clock = itertools.count(1)

    def fake_timed(model: nn.Module, inputs: torch.Tensor) -> float:
        calls.append(model[0].out_channels)
        return float(next(clock)) * (10.0 if model[0].out_channels == 8 else 1.0)

    monkeypatch.setattr(latency_module, "_timed", fake_timed)
    big, small = conv(8), conv(4)
    times = measure_latencies({"big": big, "small": small}, (3, 4, 4), (1, 2), repeats=3)
    assert calls == [8, 4] * 6  # alternating, repeat by repeat; warm-up passes are not timed
    assert times["big"] == {1: [10.0, 30.0, 50.0], 2: [70.0, 90.0, 110.0]}
    assert times["small"] == {1: [2.0, 4.0, 6.0], 2: [8.0, 10.0, 12.0]}
    clock = itertools.count(1)
    result = compare_latency(big, small, (3, 4, 4), (1, 2), repeats=3)
    assert result["parent_s"] == {"1": 30.0, "2": 90.0}
    assert result["compacted_s"] == {"1": 4.0, "2": 10.0}
    assert result["speedup"] == {"1": 7.5, "2": 9.0}
    assert result["threads"] == torch.get_num_threads() and result["device"] == "cpu"


def test_a_much_smaller_network_is_measured_faster() -> None:
    big, small = conv(96).train(), conv(4).eval()
    small[0].train()  # a mixed-mode network comes back mixed
    result = compare_latency(big, small, (3, 16, 16), (1, 16), repeats=3)
    assert result["speedup"]["16"] > 2.0  # 600x fewer MACs: no load makes that a tie
    assert all(value > 0 for value in result["parent_s"].values())
    assert big.training and all(m.training for m in big.modules())  # modes restored
    assert not small.training and small[0].training and not small[2].training


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_sizes": (0,)}, "batch_sizes must be positive ints, got \\[0\\]"),
        ({"repeats": 0}, "repeats must be a positive int, got 0"),
        ({"warmup": -1}, "warmup must be an int >= 0, got -1"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        measure_latencies({"m": conv(4)}, (3, 4, 4), **kwargs)


def runner(tmp_path) -> CaseRunner:
    suite = SimpleNamespace(delta=0.005)
    runner = CaseRunner(suite, ArtifactStore(tmp_path), device="cpu")  # type: ignore[arg-type]
    runner.__dict__["data"] = SimpleNamespace(in_channels=3, input_size=(8, 8))
    return runner


def half_pruned() -> tuple[nn.Module, nn.Module, dict[str, torch.Tensor]]:
    parent = conv(32).eval()
    masks = {"0.weight": torch.ones(32, 3, 3, 3, dtype=torch.bool)}
    masks["0.weight"][16:] = False
    masks["0.bias"] = torch.ones(32, dtype=torch.bool)
    masks["0.bias"][16:] = False
    pruned = conv(32).eval()
    with torch.no_grad():
        pruned[0].weight[16:] = 0
        pruned[0].bias[16:] = 0
    return parent, pruned, masks


def test_the_runner_measures_the_compacted_network_once_and_caches_it(tmp_path) -> None:
    parent, pruned, masks = half_pruned()
    first = runner(tmp_path).latency(parent, pruned, masks)
    assert first["parameters"]["parent"] == sum(p.numel() for p in parent.parameters())
    # 16 of 32 filters of the first conv (and their bias) and conv 2's input slices are gone
    assert (
        first["parameters"]["compacted"]
        == first["parameters"]["parent"] - 16 * 27 - 16 - 32 * 16 * 9
    )
    assert set(first["speedup"]) == {"1", "64"} and first["speedup"]["64"] > 0
    assert first["cost_s"]["measure"] > 0
    again = runner(tmp_path).latency(parent, pruned, masks)
    assert again == first  # loaded from the store, not measured again
    assert len(list((tmp_path / "latency").rglob("*.json"))) == 1


def measurement(accuracy: float) -> Measurement:
    return Measurement(accuracy=accuracy, loss=1 - accuracy, correct=torch.zeros(0).bool())


def test_latency_at_pp_picks_the_curve_point_at_the_nominal_pp(tmp_path) -> None:
    parent, pruned, masks = half_pruned()
    points = [
        SimpleNamespace(prune_ratio=0.3, model=pruned, masks=masks),
        SimpleNamespace(prune_ratio=0.6, model=parent, masks={}),
    ]
    rows = [
        PointResult(0.3, 0.3, 0.0, {"nominal": measurement(0.95)}),
        PointResult(0.6, 0.6, 0.0, {"nominal": measurement(0.80)}),
    ]
    measuring = runner(tmp_path)

    def nominal_pp(parent_accuracy: float) -> float:
        seed = SeedResult(0, {"nominal": measurement(parent_accuracy)}, rows)
        return seed.prune_potential("nominal", measuring.suite.delta)

    block = measuring.latency_at_pp(parent, nominal_pp(0.95), points)
    assert block["prune_ratio"] == 0.3
    assert block["parameters"]["compacted"] < block["parameters"]["parent"]
    block = measuring.latency_at_pp(parent, nominal_pp(0.99), points)  # nothing within delta
    assert block["prune_ratio"] == 0.0
    assert block["parameters"]["compacted"] == block["parameters"]["parent"]


def seed_result(seed: int, speedup: dict[str, float] | None) -> SeedResult:
    measured = Measurement(accuracy=0.9, loss=0.1, correct=torch.ones(10).bool())
    evaluation = {"nominal": measured, "noise:uniform:0.1": measured}
    latency = None
    if speedup is not None:
        latency = {
            "prune_ratio": 0.5, "parent_s": {"1": 2e-3, "64": 4e-2}, "compacted_s": {"1": 1e-3,
            "64": 1e-2}, "speedup": speedup, "batch_sizes": [1, 64], "repeats": 5, "warmup": 1,
            "threads": 1, "device": "cpu", "parameters": {"parent": 100, "compacted": 40},
        }  # fmt: skip
    points = [PointResult(0.5, 0.5, 0.4, evaluation)]
    return SeedResult(seed, evaluation, points, None, None, {"parent_s": 1.0},
                      {"parent": "computed"}, latency)  # fmt: skip


def case_result(structured: bool, speedups: list) -> SimpleNamespace:
    suite = SimpleNamespace(
        name="toy", dataset="toy", delta=0.005,
        thresholds_for=lambda method: SimpleNamespace(to_dict=lambda: {"nominal_pp": 0.0}),
        pruner_spec=lambda method: MethodSpec(method, method),
    )  # fmt: skip
    case = SimpleNamespace(suite=suite, arch="net", method="FT" if structured else "WT")
    seeds = [seed_result(i, speedup) for i, speedup in enumerate(speedups)]
    return SimpleNamespace(case=case, seeds=seeds, shift_sources={}, structured=structured,
                           data_informed=False, environment={"device": "cpu"},
                           num_classes=None)  # fmt: skip


def test_structured_records_carry_the_speedup_at_batch_64() -> None:
    record = build_record(case_result(True, [{"1": 2.0, "64": 4.0}, {"1": 1.0, "64": 3.0}]))
    validate_record(record)
    assert record["summary"]["speedup_at_pp"]["mean"] == pytest.approx(3.5)
    assert record["latency"]["speedup"]["1"]["mean"] == pytest.approx(1.5)
    assert record["latency"]["threads"] == 1 and record["latency"]["device"] == "cpu"
    assert record["latency"]["seeds"][0]["compacted_s"] == {"1": 1e-3, "64": 1e-2}
    board = {"schema": 2, "created": "now", "environment": {}, "records": [record]}
    assert "speedup at PP ×" in render_text(board)


def test_unstructured_records_show_no_speedup() -> None:
    record = build_record(case_result(False, [None, None]))
    validate_record(record)
    assert "speedup_at_pp" not in record["summary"] and record["latency"] is None
