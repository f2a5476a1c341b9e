"""What a benchmark run sets up before any case runs, once per pytest session.

A run is a benchmark run when it collects the robustprune benchmark: ``pytest benchmarks/`` in
this repository (its conftest calls :func:`activate` as it loads) or ``pytest --pyargs
robustprune.benchmarks`` against the installed package (the plugin calls :func:`activate`,
because pytest loads that package's conftest only once collection starts, and never on the
xdist controller). Activation

- checks the suite and the cache directory, so a bad value is a usage error before anything
  trains;
- under xdist, makes ``--dist loadgroup`` the default (the cases of one architecture share
  its parents), installs the case-group scheduler and echoes the workers' progress file on the
  controller's terminal;
- starts the per-case clock behind the ``-q`` lines with an ETA;
- with ``--rp-ray``, makes this session the driver of a Ray cluster
  (``robustprune.plugin.ray_run``).

Other pytest runs in an environment where robustprune is installed are left alone.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from robustprune.plugin.options import check_cache_dir, get_options
from robustprune.plugin.records import is_worker
from robustprune.plugin.registries import get_pruner_registry, listing_only, method_names
from robustprune.suite import SuiteError, load_suite, validate_suite

PACKAGED_BENCHMARK = "robustprune.benchmarks"
"""The benchmark's import name: ``pytest --pyargs robustprune.benchmarks``."""

PLUGIN_NAME = "robustprune-benchmark-run"

_suite_key = pytest.StashKey[Any]()


def load_run_suite(config: pytest.Config) -> Any:
    """The suite of this run (``--rp-suite``, ``--rp-seeds``), checked against the registries.

    Loaded and checked once per process. Under ``--co`` with only the built-in methods
    (``registries.listing_only``) only the suite file and its method names are checked, so
    listing the cases imports no torch. Raises ``pytest.UsageError`` naming the bad value and
    the valid ones (and any disabled plugin, which may be why a name is unknown).
    """
    if _suite_key not in config.stash:
        config.stash[_suite_key] = _load_checked_suite(config)
    return config.stash[_suite_key]


def _load_checked_suite(config: pytest.Config) -> Any:
    options = get_options(config)
    if listing_only(config):  # --co: the suite file and its methods, no registry, no torch
        try:
            suite = load_suite(options.suite)
            if options.seeds:
                suite = suite.with_seeds(options.seeds)
            suite.cases(method_names(config))
        except SuiteError as error:
            raise pytest.UsageError(str(error)) from None
        return suite
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


def requests_packaged_benchmark(config: pytest.Config) -> bool:
    """Whether this run names the installed benchmark: ``--pyargs robustprune.benchmarks[...]``."""
    if not config.getoption("pyargs", default=False):
        return False
    for arg in config.args:
        module = str(arg).split("::", 1)[0]
        if module == PACKAGED_BENCHMARK or module.startswith(PACKAGED_BENCHMARK + "."):
            return True
    return False


def activate(config: pytest.Config) -> None:
    """Set up this session as a benchmark run (idempotent; see the module docstring)."""
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    try:
        config.getoption("rp_suite")
    except ValueError:
        raise pytest.UsageError(
            "the robustprune benchmarks need the robustprune pytest plugin, which is "
            "disabled (-p no:robustprune); run them without that option"
        ) from None
    suite = load_run_suite(
        config
    )  # raises pytest.UsageError naming the bad value and the valid ones
    if not is_worker(config):
        check_cache_dir(get_options(config).cache)
        data = get_options(config).data
        if data is not None and data.exists() and not data.is_dir():
            raise pytest.UsageError(
                f"--rp-data {data} is a file; it names the root directory of on-disk datasets "
                "(docs/datasets.md), e.g. ~/data holding cifar-10-batches-py/"
            )
        controller = config.pluginmanager.get_plugin("robustprune-controller")
        if controller is not None:
            controller.check_baseline_settings(suite)  # a baseline of other settings: now
    config.pluginmanager.register(BenchmarkRun(config), PLUGIN_NAME)
    if get_options(config).ray is not None:
        from robustprune.plugin.ray_run import register

        register(config)  # --rp-ray: this session drives a Ray cluster


def _explicit_dist(args: Any) -> bool:
    return any(str(arg).startswith("--dist") or str(arg) == "-d" for arg in args)


class BenchmarkRun:
    """The controller-side hooks of a benchmark run (a plugin object registered by activate)."""

    def __init__(self, config: pytest.Config) -> None:
        from robustprune.progress import PROGRESS_ENV, new_progress_path

        self.config = config
        self.progress_path = None
        self.tail = None
        if is_worker(config) or not config.getoption("numprocesses", default=None):
            return
        if not _explicit_dist(config.invocation_params.args) and config.getoption("dist") == "load":
            config.option.dist = "loadgroup"  # cases of one architecture share its parents
        if getattr(config.option, "maxworkerrestart", None) is None:
            # each case can crash its worker at most once (scheduling.py), so every case may;
            # xdist's default (4 per worker) guards only against crashing collections
            cases = len(load_run_suite(config).cases(method_names(config)))
            workers = int(config.getoption("numprocesses") or 0)
            config.option.maxworkerrestart = str(4 * workers + cases)
        self.progress_path = new_progress_path(get_options(config).cache)
        os.environ[PROGRESS_ENV] = str(self.progress_path)  # inherited by the workers

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """``--dist loadgroup`` (the default here): all cases of one architecture on one worker."""
        if config.getoption("dist") != "loadgroup":
            return None
        from robustprune.plugin.scheduling import make_case_group_scheduler

        return make_case_group_scheduler(config, log)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Start the case clock; under xdist echo the workers' progress file on the terminal."""
        from robustprune.plugin.eta import echo_progress, start_case_clock
        from robustprune.plugin.terminal import echo_line
        from robustprune.progress import ProgressTail

        config = session.config
        start_case_clock(config)  # one line per finished case with an ETA (all that -q shows)
        if self.progress_path is None:
            return

        def echo(line: str) -> None:
            if echo_progress(config):
                echo_line(config, line)

        self.tail = ProgressTail(self.progress_path, echo).start()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
        """``os._exit`` inside a case, or running past ``--rp-case-timeout``, fails that case
        instead of ending or hanging the run (faults.py)."""
        from robustprune.plugin.faults import case_deadline, exit_fails_the_case

        timeout = get_options(item.config).case_timeout
        with exit_fails_the_case(item.nodeid), case_deadline(item.nodeid, timeout):
            return (yield)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.tail is not None:
            self.tail.stop()
