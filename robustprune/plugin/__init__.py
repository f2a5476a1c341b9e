"""The robustprune pytest plugin (loaded through the ``pytest11`` entry point).

Hooks, and the run's fixtures (robustprune.plugin.fixtures); the work lives in the sibling
modules. Importing it imports no torch: the device and the registries are set up the first
time a benchmark case asks for them.
"""

from __future__ import annotations

import pytest

from robustprune.plugin.benchmark_run import activate, requests_packaged_benchmark
from robustprune.plugin.fixtures import (  # noqa: F401  (the run's fixtures, for every test)
    rp_device,
    rp_options,
    rp_pruners,
    rp_record,
)
from robustprune.plugin.options import RunOptions, add_options, get_options
from robustprune.plugin.records import is_worker
from robustprune.plugin.registries import get_pruner_registry

__all__ = ["RunOptions", "get_options", "get_pruner_registry"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from robustprune.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


MARKERS = {
    "smoke": "a fast subset of the benchmark cases (the suite's [smoke] table)",
    "paper": "cases of the paper's suites (need the real datasets)",
    "gpu": "cases of suites that need a CUDA device",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    options = get_options(config)
    if not is_worker(config):
        from robustprune.plugin.controller import Controller

        config.pluginmanager.register(Controller(config, options), "robustprune-controller")
    if requests_packaged_benchmark(config):  # its conftest loads too late for the controller
        activate(config)
