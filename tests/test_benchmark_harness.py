"""The real benchmark harness end to end, on a tiny digits suite, as a user runs it.

Each test runs ``pytest`` in a subprocess over a copy of ``benchmarks/`` with a tiny suite and
a conftest that registers two plugin pruners: ``Random`` (a correct one) and ``Broken``
(returns masks of the wrong shape). Training is real; the artifact store is per test module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tiny import conftest_registering, reproducible_records

import robustprune.pruning  # noqa: F401  (import torch once, before pytester restores modules)

pytestmark = pytest.mark.slow  # real training through the harness, in pytest subprocesses

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

PLUGIN_PRUNERS = conftest_registering("RandomPruner", "BrokenPruner")


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
    assert reproducible_records(tmp_path / "cold" / "leaderboard.json") == reproducible_records(
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
