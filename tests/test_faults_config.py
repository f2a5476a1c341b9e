"""Bad configuration is a usage error when pytest starts, before anything trains or is cached."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import robustprune.pruning  # noqa: F401  (import torch once, before pytester restores modules)

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

SUITE = """
name = "tiny"
dataset = "digits"
archs = ["resnet8"]
methods = ["WT"]
train_recipe = "digits"
retrain_recipe = "digits_retrain"
shifts = ["noise:uniform:0.3"]

[grid]
ratios = [0.3]
"""


@pytest.fixture
def bench(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    shutil.copytree(
        REPO / "benchmarks",
        pytester.path / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "bench_*.py", "baselines"),
    )
    (pytester.path / "tiny.toml").write_text(SUITE)
    monkeypatch.setenv("ROBUSTPRUNE_CACHE", str(pytester.path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return pytester


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ("methods = [", "method = ["),
            "*unknown key 'method' in the top level (did you mean 'methods'?)*",
        ),
        (
            ("[grid]\nratios", "[grid]\nratio"),
            "*unknown key 'ratio' in ?grid? (did you mean 'ratios'?)*",
        ),
        (("[grid]", "[smok]\narchs = []\n[grid]"), "*unknown key 'smok'*(did you mean 'smoke'?)*"),
        (
            ("ratios = [0.3]", "ratios = [0.3, 0.3]"),
            "*grid must be strictly increasing*no repeats*",
        ),
    ],
)
def test_bad_suite_is_exit_4_before_any_training(
    bench: pytest.Pytester, change: tuple[str, str], message: str
) -> None:
    (bench.path / "bad.toml").write_text(SUITE.replace(*change))
    result = bench.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "bad.toml", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (bench.path / "cache").exists()


def test_a_broken_pruner_plugin_is_disabled_with_a_warning_and_the_run_goes_on(
    bench: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = bench.path / "site"
    dist_info = site / "broken-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[robustprune.pruners]\nbad = no_such_module:X\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    (bench.path / "all.toml").write_text(SUITE.replace('methods = ["WT"]\n', ""))
    result = bench.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "all.toml", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*4 tests collected*"])
    output = result.stdout.str() + result.stderr.str()
    assert (
        "PrunerPluginWarning: pruner plugin 'bad' (group robustprune.pruners) is disabled: "
        "distribution broken 0.1, no_such_module:X: ModuleNotFoundError" in output
    )


def test_without_the_plugin_the_benchmarks_are_a_usage_error_not_internalerror(
    bench: pytest.Pytester,
) -> None:
    result = bench.runpytest_subprocess(
        "benchmarks/", "-p", "no:robustprune", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*need the robustprune pytest plugin*-p no:robustprune*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_cache_that_is_a_file_is_a_usage_error_under_xdist(bench: pytest.Pytester) -> None:
    (bench.path / "cache-file").write_text("not a directory")
    result = bench.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "tiny.toml", "--rp-cache", str(bench.path / "cache-file"),
        "-n", "2", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*artifact cache *cache-file exists but is not a directory*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only directory")
def test_a_read_only_cache_is_a_usage_error_under_xdist(bench: pytest.Pytester) -> None:
    cache = bench.path / "readonly"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        result = bench.runpytest_subprocess(
            "benchmarks/", "--rp-suite", "tiny.toml", "--rp-cache", str(cache), "-n", "2",
        )  # fmt: skip
    finally:
        cache.chmod(0o755)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*artifact cache *readonly is not a writable directory*"])


def test_check_cache_dir_names_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robustprune.plugin.options import check_cache_dir

    check_cache_dir(tmp_path / "new" / "cache")  # created
    assert (tmp_path / "new" / "cache").is_dir() and not list(
        (tmp_path / "new" / "cache").iterdir()
    )

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.NamedTemporaryFile", refuse)
    with pytest.raises(
        pytest.UsageError, match="is not a writable directory \\(Permission denied\\)"
    ):
        check_cache_dir(tmp_path)
