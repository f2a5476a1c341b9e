"""The registries a benchmark run sees: built-ins, entry points, then the conftest hooks.

``pytest_robustprune_<kind>(registry)`` runs once per process (every xdist worker included)
on the first use of the pruner registry, which the benchmark does before it checks the suite.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

KINDS = {
    "models": "robustprune.models.registry",
    "datasets": "robustprune.data.core",
    "shifts": "robustprune.data.shifts.registry",
    "recipes": "robustprune.recipes",
}
"""Registry kind -> the module whose ``plugins`` (``robustprune.extensions.Extensions``) it is."""

_pruners_key = pytest.StashKey[Any]()


def extensions(kind: str) -> Any:
    """The ``Extensions`` of ``kind`` (models, datasets, shifts or recipes), entry points loaded."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "shifts":
        importlib.import_module("robustprune.data.shifts")  # the built-in corruptions
    elif kind == "datasets":
        importlib.import_module("robustprune.data")  # the built-in datasets
    elif kind == "models":
        importlib.import_module("robustprune.models")
    registry = importlib.import_module(KINDS[kind]).plugins
    registry.load_entry_points()
    return registry


def get_pruner_registry(config: pytest.Config) -> Any:
    """``robustprune.pruning.default_registry()`` after ``pytest_robustprune_pruners`` ran on it.

    The first call in a process also runs ``pytest_robustprune_models``, ``..._datasets``,
    ``..._shifts`` and ``..._recipes`` (historically), so collection-time code such as
    ``pytest_generate_tests``, the suite check and fixtures see every registered plugin.
    """
    if _pruners_key not in config.stash:
        try:
            from robustprune.pruning import default_registry

            registries = {kind: extensions(kind) for kind in KINDS}
        except ImportError as error:
            raise pytest.UsageError(
                f"the robustprune registries are unavailable: {error}"
            ) from None
        registry = default_registry()
        config.stash[_pruners_key] = registry
        try:
            config.hook.pytest_robustprune_pruners.call_historic(kwargs={"registry": registry})
            for kind, extension in registries.items():
                getattr(config.hook, f"pytest_robustprune_{kind}").call_historic(
                    kwargs={"registry": extension}
                )
        except (ValueError, TypeError) as error:  # a taken name, an object of the wrong kind
            raise pytest.UsageError(f"a pytest_robustprune_* hook failed: {error}") from None
    return config.stash[_pruners_key]
