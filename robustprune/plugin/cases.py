"""The benchmark cases: one parametrized case per (architecture, method) of the suite.

This module is the case machinery of the plugin: the parametrization, the fixtures, the
usage checks, the xdist scheduler choice and the progress echo. It is active where a
``conftest.py`` star-imports it: the installed package's ``robustprune/benchmarks/``
(``pytest --pyargs robustprune.benchmarks``) and this repository's ``benchmarks/``. Elsewhere
the plugin adds no fixtures and changes nothing about a run.

Fixtures build the case's artifacts in order, each from the artifact store when it is there:
``parent`` (trained parents, one per seed) -> ``curve`` (Algorithm 1 per seed) ->
``evaluation`` (every network on the nominal test set and every shift) -> ``record``.
"""

from __future__ import annotations

import os

import pytest

from robustprune.plugin.benchmark_run import activate, load_run_suite
from robustprune.plugin.registries import method_names

__all__ = [
    "curve",
    "evaluation",
    "parent",
    "pytest_configure",
    "pytest_generate_tests",
    "record",
    "rp_baseline",
    "rp_progress",
    "runner",
    "suite",
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    suite = load_run_suite(metafunc.config)
    params = []
    for case in suite.cases(method_names(metafunc.config)):
        marks = [pytest.mark.xdist_group(case.group)]
        if case.smoke:
            marks.append(pytest.mark.smoke)
        if suite.paper:
            marks.append(pytest.mark.paper)
        if suite.gpu:
            marks.append(pytest.mark.gpu)
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("case", params)


@pytest.fixture(scope="session")
def suite(pytestconfig: pytest.Config):
    """The suite this run benchmarks (``--rp-suite``)."""
    return load_run_suite(pytestconfig)


@pytest.fixture(scope="session")
def runner(suite, rp_options, rp_device, rp_pruners, rp_progress):
    """Builds and caches parents, curves and evaluations for this process."""
    from robustprune.cache import ArtifactStore
    from robustprune.harness import CaseRunner

    return CaseRunner(
        suite,
        ArtifactStore(rp_options.cache),
        rp_device,
        rp_options.data,
        progress=rp_progress,
        registry=rp_pruners,
    )


@pytest.fixture
def parent(case, runner, pytestconfig):
    """The trained parents of the case's architecture, one per seed (skips when data is missing)."""
    from robustprune.data import DatasetNotFoundError

    ray_run = _ray_run(pytestconfig)
    if ray_run is not None:  # --rp-ray: built by the cluster, read from the store
        from robustprune.plugin import ray_run as driver

        try:
            return driver.parents(ray_run, case, runner)
        except DatasetNotFoundError as error:
            pytest.skip(str(error))
    if runner.suite.gpu and runner.device.type != "cuda":
        pytest.skip(
            f"suite {runner.suite.name!r} needs a CUDA device; this run has {runner.device}"
        )
    try:
        return [runner.parent(case.arch, seed) for seed in runner.suite.seeds]
    except DatasetNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture
def curve(case, runner, parent, pytestconfig):
    """The prune-retrain curve of the case's method, one list of points per seed."""
    ray_run = _ray_run(pytestconfig)
    if ray_run is not None:
        from robustprune.plugin import ray_run as driver

        return driver.curves(ray_run, case, runner)
    return [runner.curve(case.arch, case.method, seed) for seed in runner.suite.seeds]


@pytest.fixture
def evaluation(case, runner, parent, curve, pytestconfig):
    """The parents and curves it is given, measured on every distribution (a CaseResult)."""
    ray_run = _ray_run(pytestconfig)
    if ray_run is not None:  # measured by the case's Ray task
        from robustprune.plugin import ray_run as driver

        return driver.evaluation(ray_run, case)
    return runner.run(case, parent, curve)


def _ray_run(config: pytest.Config):
    """The ``--rp-ray`` driver of this session, or None (robustprune.plugin.ray_run)."""
    from robustprune.plugin.ray_run import get_ray_run  # needs torch: only fixtures call this

    return get_ray_run(config)


@pytest.fixture
def record(evaluation, runner, rp_record):
    """The case's record, handed to the leaderboard even when the case then fails."""
    from robustprune.record import build_record

    built = build_record(evaluation, num_classes=runner.model_shape()["num_classes"])
    rp_record(built)
    return built


def pytest_configure(config: pytest.Config) -> None:
    """Check the suite and the cache (usage errors); set up the run's progress and scheduling."""
    activate(config)


@pytest.fixture(scope="session")
def rp_progress(pytestconfig: pytest.Config):
    """Where long work reports: the controller's progress file under xdist, else the terminal."""
    from robustprune.plugin.eta import echo_progress
    from robustprune.progress import PROGRESS_ENV, file_sink

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get(PROGRESS_ENV):
        return file_sink(os.environ[PROGRESS_ENV], f"[{worker}]")
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")

    def echo(line: str) -> None:
        if reporter is None or capture is None or not echo_progress(pytestconfig):
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"[robustprune] {line}")

    return echo


@pytest.fixture(scope="session")
def rp_baseline(rp_options):
    """``rp_baseline(record) -> list of failed gates`` (sentences) for ``--rp-compare-fail``.

    The same comparison as the session gate and ``robustprune compare``
    (``robustprune.leaderboard.case_gate_failures``): a case fails a gate when its metric is
    worse than the baseline record's by more than both the tolerance and the uncertainty.
    """
    from robustprune.leaderboard import case_gate_failures, load_leaderboard, record_key

    if rp_options.compare is None or not rp_options.compare_fail:
        return lambda record: []
    baseline = {record_key(r): r for r in load_leaderboard(rp_options.compare)["records"]}
    return lambda record: case_gate_failures(
        baseline.get(record_key(record)), record, rp_options.compare_fail
    )
