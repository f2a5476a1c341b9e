"""The real benchmark harness end to end, on a tiny digits suite, as a user runs it.

Each test runs ``pytest`` in a subprocess over a copy of ``benchmarks/`` with a tiny suite and
a conftest that registers two plugin pruners: ``Random`` (a correct one) and ``Broken``
(returns masks of the wrong shape). Training is real; the artifact store is per test module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import robustprune.pruning  # noqa: F401  (import torch once, before pytester restores modules)

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

TINY_SUITE = """
name = "tiny"
dataset = "digits"
archs = ["resnet8"]
methods = ["WT", "Random", "Broken"]
seeds = 2
train_recipe = "digits"
retrain_recipe = "digits_retrain"
shifts = ["corruption:gaussian_noise:3", "noise:uniform:0.3"]
similarity = true
similarity_draws = 1
features = true
features_images = 4

[grid]
ratios = [0.3, 0.6, 0.8]

[thresholds]
nominal_pp = 0.0

[smoke]
archs = ["resnet8"]
methods = ["WT"]
"""

PLUGIN_PRUNERS = '''
import torch
from robustprune.pruning import Pruner, parameter_count, prunable_weights


class RandomPruner(Pruner):
    """Uniformly random weights; already-zero weights go first so iterative steps nest."""

    name = "Random"
    structured = False
    data_informed = False

    def prune(self, model, prune_ratio, sample):
        weights = prunable_weights(model)
        flat = torch.cat([w.detach().flatten() for w in weights.values()])
        scores = torch.rand(flat.numel(), generator=torch.Generator().manual_seed(0)) + (flat != 0)
        keep = torch.ones_like(flat, dtype=torch.bool)
        keep[scores.argsort()[: round(prune_ratio * parameter_count(model))]] = False
        masks, start = {}, 0
        for name, weight in weights.items():
            masks[name] = keep[start : start + weight.numel()].view(weight.shape)
            start += weight.numel()
        return masks


class BrokenPruner(Pruner):
    name = "Broken"
    structured = False
    data_informed = False

    def prune(self, model, prune_ratio, sample):
        name = next(iter(prunable_weights(model)))
        return {name: torch.ones(3, dtype=torch.bool)}


def pytest_robustprune_pruners(registry):
    registry.register(RandomPruner, origin="tests conftest.py")
    registry.register(BrokenPruner, origin="tests conftest.py")
'''


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture
def bench(
    pytester: pytest.Pytester, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    shutil.copytree(
        REPO / "benchmarks",
        pytester.path / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "bench_*.py", "baselines"),
    )
    (pytester.path / "tiny.toml").write_text(TINY_SUITE)
    pytester.makeconftest(PLUGIN_PRUNERS)
    monkeypatch.setenv("ROBUSTPRUNE_CACHE", str(cache))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return pytester


def comparable(path: Path) -> list[dict[str, Any]]:
    """Records without what legitimately differs between runs (timings, cache origin, env)."""
    records = json.loads(path.read_text())["records"]
    return [
        {k: v for k, v in r.items() if k not in ("timings", "artifacts", "environment")}
        for r in records
    ]


def test_tiny_suite_end_to_end_with_and_without_xdist(
    bench: pytest.Pytester, tmp_path: Path
) -> None:
    cold = bench.runpytest_subprocess(
        "benchmarks/",
        "--rp-suite",
        "tiny.toml",
        "--rp-leaderboard",
        str(tmp_path / "cold"),
        "-p",
        "no:cacheprovider",
    )
    cold.assert_outcomes(passed=2, errors=1)
    output = cold.stdout.str()
    # The broken plugin fails its own case with the named violation; the others run.
    cold.stdout.fnmatch_lines(
        ["ERROR benchmarks/test_prune_potential.py::test_prune_potential[[]tiny-resnet8-Broken[]]*"]
    )
    assert (
        "InvalidMaskError: pruner 'Broken' returned invalid masks: mask for 'conv1.weight' has shape (3,)"
        in output
    )
    # Progress is visible, and the leaderboard table lists the plugin pruner next to WT.
    assert "training parent digits/resnet8 seed 0" in output
    assert "Random" in output and "WT" in output and "nominal PP" in output

    warm = bench.runpytest_subprocess(
        "benchmarks/",
        "--rp-suite",
        "tiny.toml",
        "-n",
        "2",
        "--rp-leaderboard",
        str(tmp_path / "warm"),
        "-p",
        "no:cacheprovider",
        "-k",
        "not Broken",
    )
    warm.assert_outcomes(passed=2)
    assert comparable(tmp_path / "cold" / "leaderboard.json") == comparable(
        tmp_path / "warm" / "leaderboard.json"
    )
    warm_records = json.loads((tmp_path / "warm" / "leaderboard.json").read_text())["records"]
    assert all(set(r["artifacts"]["parent"]) == {"loaded"} for r in warm_records)
    assert {r["method"] for r in warm_records} == {"Random", "WT"}
    for record in warm_records:
        features = record["features"]
        assert features["models"][0] == "parent" and features["models"][-1] == "separate parent"
        assert len(features["cross_confidence"]) == len(features["models"]) == 5
        assert record["similarity"]["reference"] is not None


def test_smoke_marker_selects_the_smoke_cases(bench: pytest.Pytester) -> None:
    result = bench.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "tiny.toml", "-m", "smoke", "--collect-only", "-q"
    )
    result.stdout.fnmatch_lines(
        ["*test_prune_potential[[]tiny-resnet8-WT[]]*", "*1/3 tests collected*"]
    )


def test_missing_dataset_skips_with_the_expected_path(
    bench: pytest.Pytester, tmp_path: Path
) -> None:
    result = bench.runpytest_subprocess(
        "benchmarks/",
        "--rp-suite",
        "cifar10",
        "--rp-data",
        str(tmp_path / "nodata"),
        "-m",
        "smoke",
        "-rs",
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*{tmp_path / 'nodata'}*cifar-10-batches-py*"])


def test_unknown_architecture_is_a_usage_error_listing_valid_names(bench: pytest.Pytester) -> None:
    (bench.path / "bad.toml").write_text(
        TINY_SUITE.replace('"resnet8"]\nmethods', '"resnet9000"]\nmethods')
    )
    result = bench.runpytest_subprocess("benchmarks/", "--rp-suite", "bad.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown architecture 'resnet9000'; valid: *resnet20*"])
