"""The benchmark cases: one parametrized case per (architecture, method) of the suite.

This module is the case machinery of the plugin: the parametrization, the case fixtures
(defined in robustprune.plugin.fixtures), the usage checks, the xdist scheduler choice and the
progress echo. It is active where a ``conftest.py`` star-imports it: the installed package's
``robustprune/benchmarks/`` (``pytest --pyargs robustprune.benchmarks``) and this repository's
``benchmarks/``. Elsewhere the plugin adds no fixtures and changes nothing about a run.

A case's fixtures: ``parents`` -> ``curves`` -> ``case_result`` -> ``record`` (``parent``,
``curve`` and ``evaluation`` are the old names of the first three).
"""

from __future__ import annotations

import pytest

from robustprune.plugin.benchmark_run import activate, load_run_suite
from robustprune.plugin.fixtures import (
    case_builder,
    case_result,
    curve,
    curves,
    evaluation,
    parent,
    parents,
    record,
    rp_baseline,
    rp_progress,
    runner,
    suite,
)
from robustprune.plugin.registries import method_names

__all__ = [
    "case_builder",
    "case_result",
    "curve",
    "curves",
    "evaluation",
    "parent",
    "parents",
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


def pytest_configure(config: pytest.Config) -> None:
    """Check the suite and the cache (usage errors); set up the run's progress and scheduling."""
    activate(config)
