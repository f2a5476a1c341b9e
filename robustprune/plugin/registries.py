"""The registries a benchmark run sees: built-ins, entry points, then the conftest hooks.

``pytest_robustprune_<kind>(registry)`` runs once per process (every xdist worker included)
on the first use of the pruner registry, which the benchmark does before it checks the suite.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest

from robustprune.extensions import GROUPS, load_extensions
from robustprune.methods import BUILTIN_METHODS, READY_MADE_METHODS

EXTENSION_KINDS = tuple(kind for kind in GROUPS if kind != "pruners")
"""The kinds besides pruners whose ``pytest_robustprune_<kind>(registry)`` hook the plugin calls."""

_pruners_key = pytest.StashKey[Any]()
_builtin_only_key = pytest.StashKey[bool]()


def get_pruner_registry(config: pytest.Config) -> Any:
    """``load_extensions("pruners")`` after ``pytest_robustprune_pruners`` ran on it.

    The first call in a process also runs ``pytest_robustprune_models``, ``..._datasets``,
    ``..._shifts`` and ``..._recipes`` (historically), so collection-time code such as
    ``pytest_generate_tests``, the suite check and fixtures see every registered plugin.
    """
    if _pruners_key not in config.stash:
        try:
            registry = load_extensions("pruners")
            registries = {kind: load_extensions(kind) for kind in EXTENSION_KINDS}
        except ImportError as error:
            raise pytest.UsageError(
                f"the robustprune registries are unavailable: {error}"
            ) from None
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
    """Every pruner name of this run, sorted: the registry's, or the in-tree ones (built-in and
    ready-made) when listing."""
    if listing_only(config):
        return sorted({*BUILTIN_METHODS, *READY_MADE_METHODS})
    return get_pruner_registry(config).names()
