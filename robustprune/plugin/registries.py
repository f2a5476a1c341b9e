"""The registries a benchmark run sees: built-ins, entry points, then the conftest hooks.

``pytest_robustprune_<kind>(registry)`` runs once per process (every xdist worker included)
on the first use of the pruner registry, which the benchmark does before it checks the suite.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any

import pytest

from robustprune.extensions import GROUPS
from robustprune.methods import BUILTIN_METHODS

KINDS = {
    "models": "robustprune.models.registry",
    "datasets": "robustprune.data.core",
    "shifts": "robustprune.data.shifts.registry",
    "recipes": "robustprune.recipes",
}
"""Registry kind -> the module whose ``plugins`` (``robustprune.extensions.Extensions``) it is."""

_pruners_key = pytest.StashKey[Any]()
_builtin_only_key = pytest.StashKey[bool]()


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


def only_builtin_methods(config: pytest.Config) -> bool:
    """Whether no pruner but the built-ins can be registered in this run: no entry point in
    ``robustprune.pruners`` and no ``pytest_robustprune_pruners`` implementation."""
    if _builtin_only_key not in config.stash:
        config.stash[_builtin_only_key] = not (
            config.hook.pytest_robustprune_pruners.get_hookimpls()
            or importlib.metadata.entry_points(group=GROUPS["pruners"])
        )
    return config.stash[_builtin_only_key]


def listing_only(config: pytest.Config) -> bool:
    """``--co`` with only the built-in methods: the cases can be listed without importing torch.

    The case list then comes from the suite file and ``robustprune.methods``; the names of its
    models, datasets, shifts and recipes are checked when a run starts, before anything trains.
    """
    return bool(config.getoption("collectonly", default=False)) and only_builtin_methods(config)


def method_names(config: pytest.Config) -> list[str]:
    """Every pruner name of this run, sorted: the registry's, or the built-ins' when listing."""
    if listing_only(config):
        return sorted(BUILTIN_METHODS)
    return get_pruner_registry(config).names()
