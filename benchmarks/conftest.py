"""Benchmark cases from the suite file: one parametrized case per (architecture, method).

Fixtures build the case's artifacts in order, each from the artifact store when it is there:
``parent`` (trained parents, one per seed) -> ``curve`` (Algorithm 1 per seed) ->
``evaluation`` (every network on the nominal test set and every shift) -> ``record``.
"""

from __future__ import annotations

import os

import pytest

from robustprune.plugin import get_pruner_registry
from robustprune.plugin.options import check_cache_dir, get_options
from robustprune.suite import SuiteError, load_suite, validate_suite


def _suite(config: pytest.Config):
    options = get_options(config)
    registry = get_pruner_registry(config)
    try:
        suite = load_suite(options.suite)
        if options.seeds:
            suite = suite.with_seeds(options.seeds)
        validate_suite(suite, registry.names())
    except SuiteError as error:
        broken = "".join(f"; disabled plugin {n!r}: {w}" for n, w in registry.broken().items())
        raise pytest.UsageError(f"{error}{broken}") from None
    return suite


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    suite = _suite(metafunc.config)
    params = []
    for case in suite.cases(get_pruner_registry(metafunc.config).names()):
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
    return _suite(pytestconfig)


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
def parent(case, runner):
    """The trained parents of the case's architecture, one per seed (skips when data is missing)."""
    from robustprune.data import DatasetNotFoundError

    if runner.suite.gpu and runner.device.type != "cuda":
        pytest.skip(
            f"suite {runner.suite.name!r} needs a CUDA device; this run has {runner.device}"
        )
    try:
        return [runner.parent(case.arch, seed) for seed in runner.suite.seeds]
    except DatasetNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture
def curve(case, runner, parent):
    """The prune-retrain curve of the case's method, one list of points per seed."""
    return [runner.curve(case.arch, case.method, seed) for seed in runner.suite.seeds]


@pytest.fixture
def evaluation(case, runner, curve):
    """Every network of the case measured on every distribution (a CaseResult)."""
    return runner.run(case)


@pytest.fixture
def record(evaluation, runner, rp_record):
    """The case's record, handed to the leaderboard even when the case then fails."""
    from robustprune.record import build_record

    built = build_record(evaluation, num_classes=runner.model_shape()["num_classes"])
    rp_record(built)
    return built


def _explicit_dist(args) -> bool:
    return any(str(arg).startswith("--dist") or str(arg) == "-d" for arg in args)


def pytest_configure(config: pytest.Config) -> None:
    """Check the suite and the cache (usage errors); under xdist group cases and echo progress."""
    from robustprune.progress import PROGRESS_ENV, new_progress_path

    try:
        config.getoption("rp_suite")
    except ValueError:
        raise pytest.UsageError(
            "the benchmarks in benchmarks/ need the robustprune pytest plugin, which is "
            "disabled (-p no:robustprune); run them without that option"
        ) from None
    _suite(config)  # raises pytest.UsageError naming the bad value and the valid ones
    if not hasattr(config, "workerinput"):
        check_cache_dir(get_options(config).cache)
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", default=None):
        return
    if not _explicit_dist(config.invocation_params.args) and config.getoption("dist") == "load":
        config.option.dist = "loadgroup"  # cases of one architecture share its parents
    path = new_progress_path(get_options(config).cache)
    os.environ[PROGRESS_ENV] = str(path)  # inherited by the workers xdist starts at session start
    config._rp_progress_path = path


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup`` (the default here): all cases of one architecture on one worker."""
    if config.getoption("dist") != "loadgroup":
        return None
    from robustprune.plugin.scheduling import make_case_group_scheduler

    return make_case_group_scheduler(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Start echoing the workers' progress file on the controller's terminal."""
    from robustprune.plugin.eta import echo_progress, start_case_clock
    from robustprune.progress import ProgressTail

    config = session.config
    start_case_clock(config)  # one line per finished case with an ETA (all that -q shows)
    path = getattr(config, "_rp_progress_path", None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if path is None or reporter is None:
        return

    def echo(line: str) -> None:
        if not echo_progress(config):
            return
        if reporter._tw.width_of_current_line:  # after xdist's progress dots
            reporter._tw.line()
        reporter.write_line(line)
        reporter._tw.flush()  # visible at once even when stdout is a file or a pipe

    config._rp_progress_tail = ProgressTail(path, echo).start()


def pytest_unconfigure(config: pytest.Config) -> None:
    tail = getattr(config, "_rp_progress_tail", None)
    if tail is not None:
        tail.stop()


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
