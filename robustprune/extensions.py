"""Plugins for every registry: entry points, the conftest hook route, origins, disabled plugins.

One loader serves pruners, models, datasets, shifts and recipes. A distribution declares entry
points in the group ``robustprune.<kind>`` (``robustprune.models``, ...); a conftest.py
implements ``pytest_robustprune_<kind>(registry)`` and calls ``registry.register``. An entry
point that fails to import or to register is disabled with a :class:`PluginWarning` naming its
distribution and the error; everything else goes on working. Imports no torch.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from collections.abc import Callable
from typing import Any

GROUPS = {
    "pruners": "robustprune.pruners",
    "models": "robustprune.models",
    "datasets": "robustprune.datasets",
    "shifts": "robustprune.shifts",
    "recipes": "robustprune.recipes",
}
"""Registry kind -> entry-point group."""

HOMES = {
    "pruners": "robustprune.pruning:default_registry",
    "models": "robustprune.models:registry.MODELS",
    "datasets": "robustprune.data:core.DATASETS",
    "shifts": "robustprune.data.shifts:registry.SHIFTS",
    "recipes": "robustprune.recipes:RECIPES",
}
"""Registry kind -> ``package:attribute path`` of its registry (a function returning it for
pruners). Importing the package registers the built-ins."""


def load_extensions(kind: str) -> Any:
    """The registry of ``kind`` with its built-ins and the entry points of installed packages.

    The one way every caller (the pytest plugin, the CLI, a Ray task) reaches a registry; it
    imports no pytest.
    """
    if kind not in HOMES:
        raise ValueError(f"unknown registry kind {kind!r}; valid kinds: {', '.join(HOMES)}")
    package, _, path = HOMES[kind].partition(":")
    registry: Any = importlib.import_module(package)
    for attribute in path.split("."):
        registry = getattr(registry, attribute)
    if callable(registry):
        registry = registry()
    registry.load_entry_points()
    return registry


Register = Callable[[str, Any, str], "str | None"]
"""``register(entry point name, loaded object, origin) -> registered name`` (None: nothing new)."""


class PluginWarning(UserWarning):
    """A plugin (entry point) could not be loaded and is disabled."""


def entry_point_origin(entry_point: importlib.metadata.EntryPoint, group: str) -> str:
    """``entry point 'random' (randprune:RandomPruner) in robustprune.pruners``."""
    return f"entry point {entry_point.name!r} ({entry_point.value}) in {group}"


def distribution_of(entry_point: importlib.metadata.EntryPoint) -> str:
    """``distribution randprune 0.1``, or ``an unknown distribution``."""
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "an unknown distribution"
    return f"distribution {dist.metadata['Name']} {dist.version}"


def load_group(
    group: str,
    kind: str,
    register: Register,
    broken: dict[str, str],
    category: type[PluginWarning] = PluginWarning,
) -> list[str]:
    """Load every entry point of ``group`` (sorted by name) and pass it to ``register``.

    Returns the names registered. A failure (import error, invalid object, duplicate name) puts
    ``entry point name -> why`` into ``broken`` and warns ``category``:
    ``<kind> plugin 'bad' (group robustprune.<kind>s) is disabled: distribution broken 0.1, ...``.
    """
    added = []
    for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            name = register(
                entry_point.name, entry_point.load(), entry_point_origin(entry_point, group)
            )
        except Exception as error:  # noqa: BLE001 - a broken plugin must not stop the others
            why = f"{distribution_of(entry_point)}, {entry_point.value}: {type(error).__name__}: {error}"
            broken[entry_point.name] = why
            warnings.warn(
                category(f"{kind} plugin {entry_point.name!r} (group {group}) is disabled: {why}"),
                stacklevel=3,
            )
            continue
        if name is not None:
            added.append(name)
    return added


def broken_note(broken: dict[str, str]) -> str:
    """``"; disabled plugin 'bad': distribution broken 0.1, ..."`` for an unknown-name error."""
    return "".join(f"; disabled plugin {name!r}: {why}" for name, why in sorted(broken.items()))
