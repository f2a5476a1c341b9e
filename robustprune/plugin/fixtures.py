"""Every fixture of the plugin.

Two groups: the run's fixtures (``rp_options``, ``rp_device``, ``rp_pruners``, ``rp_record``),
which the plugin module exposes to every test, and the benchmark case's fixtures, which
robustprune.plugin.cases exposes where a ``conftest.py`` star-imports it. A case's artifacts
are built in order, each from the artifact store when it is there: ``parents`` (trained
parents, one per seed) -> ``curves`` (Algorithm 1 per seed) -> ``case_result`` (every network
on the nominal test set and every shift) -> ``record``. ``case_builder`` decides once whether
this process or the Ray cluster builds them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from robustprune.plugin.benchmark_run import load_run_suite
from robustprune.plugin.options import RunOptions, get_options
from robustprune.plugin.records import make_recorder
from robustprune.plugin.registries import get_pruner_registry

# -- the run's fixtures (every test) ---------------------------------------------------------


@pytest.fixture(scope="session")
def rp_options(pytestconfig: pytest.Config) -> RunOptions:
    """The ``--rp-*`` options of this run."""
    return get_options(pytestconfig)


@pytest.fixture(scope="session")
def rp_device() -> Any:
    """This process's torch device; caps CPU threads so workers share the cores fairly."""
    from robustprune.device import configure_worker

    return configure_worker()


@pytest.fixture(scope="session")
def rp_pruners(pytestconfig: pytest.Config) -> Any:
    """The pruner registry, including pruners registered through ``pytest_robustprune_pruners``."""
    return get_pruner_registry(pytestconfig)


@pytest.fixture
def rp_record(request: pytest.FixtureRequest) -> Callable[[dict[str, Any]], None]:
    """Call ``rp_record(record)`` once per case to put its record on the leaderboard."""
    return make_recorder(request.node)


# -- a benchmark case's fixtures (robustprune.plugin.cases) ----------------------------------


@pytest.fixture(scope="session")
def suite(pytestconfig: pytest.Config):
    """The suite this run benchmarks (``--rp-suite``)."""
    return load_run_suite(pytestconfig)


@pytest.fixture(scope="session")
def runner(suite, rp_options, rp_device, rp_pruners, rp_progress):
    """Builds and caches parents, curves and evaluations for this process (a CaseRunner)."""
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


@pytest.fixture(scope="session")
def case_builder(runner, pytestconfig: pytest.Config):
    """Who builds a case's artifacts: this process, or with ``--rp-ray`` the cluster's tasks
    (robustprune.plugin.case_builders)."""
    from robustprune.plugin.case_builders import LocalCases
    from robustprune.plugin.ray_run import RayCases, get_ray_run

    ray_run = get_ray_run(pytestconfig)
    return LocalCases(runner) if ray_run is None else RayCases(ray_run, runner)


@pytest.fixture
def parents(case, case_builder):
    """The trained parents of the case's architecture, one per seed (skips when data is missing)."""
    from robustprune.data import DatasetNotFoundError

    try:
        return case_builder.parents(case)
    except DatasetNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture
def curves(case, case_builder, parents):
    """The prune-retrain curve of the case's method, one per seed."""
    return case_builder.curves(case, parents)


@pytest.fixture
def case_result(case, case_builder, parents, curves):
    """The parents and curves measured on every distribution (a CaseResult)."""
    return case_builder.case_result(case, parents, curves)


@pytest.fixture
def parent(parents):
    """Old name of ``parents``."""
    return parents


@pytest.fixture
def curve(curves):
    """Old name of ``curves``."""
    return curves


@pytest.fixture
def evaluation(case_result):
    """Old name of ``case_result``."""
    return case_result


@pytest.fixture
def record(case_result, rp_record):
    """The case's record, handed to the leaderboard even when the case then fails."""
    from robustprune.record import build_record

    built = build_record(case_result)
    rp_record(built)
    return built


@pytest.fixture(scope="session")
def rp_progress(pytestconfig: pytest.Config):
    """Where long work reports: the controller's progress file under xdist, else the terminal."""
    from robustprune.plugin.eta import echo_progress
    from robustprune.plugin.terminal import echo_line
    from robustprune.progress import PROGRESS_ENV, file_sink

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get(PROGRESS_ENV):
        return file_sink(os.environ[PROGRESS_ENV], f"[{worker}]")

    def echo(line: str) -> None:
        if echo_progress(pytestconfig):
            echo_line(pytestconfig, f"[robustprune] {line}", in_test=True)

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
