"""The built-in methods (WT, SiPP, FT, PFP) and the process-wide default registry.

This is the one module that imports the methods: ``robustprune.methods.BUILTIN_METHODS`` lists
them once (by name, importable without torch) and ``BUILTIN_PRUNERS`` holds their classes.
``default_registry()`` holds them, anything added with ``@register_pruner`` and the entry
points of the group ``robustprune.pruners``.
"""

from __future__ import annotations

import importlib
import threading

from robustprune.methods import BUILTIN_METHODS
from robustprune.pruning.base import Pruner, PrunerRegistry


def _import_method(label: str, target: str) -> type[Pruner]:
    module, _, attribute = target.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if cls.name != label:
        raise RuntimeError(
            f"robustprune.methods lists {target} as {label!r}; its name is {cls.name!r}"
        )
    return cls


BUILTIN_PRUNERS: tuple[type[Pruner], ...] = tuple(
    _import_method(label, target) for label, target in BUILTIN_METHODS.items()
)
"""WT, SiPP, FT and PFP: the classes ``robustprune.methods.BUILTIN_METHODS`` names."""

_IN_TREE = PrunerRegistry()
_DEFAULT: PrunerRegistry | None = None
_LOCK = threading.Lock()


def _origin(cls: type[Pruner]) -> str:
    return f"robustprune ({cls.__module__})"


def register_pruner(cls: type[Pruner]) -> type[Pruner]:
    """Class decorator for in-tree pruners: adds ``cls`` to the in-tree set of the default registry."""
    _IN_TREE.register(cls, origin=_origin(cls))
    if _DEFAULT is not None:
        _DEFAULT.register(cls, origin=_origin(cls))
    return cls


for _builtin in BUILTIN_PRUNERS:
    register_pruner(_builtin)


def default_registry() -> PrunerRegistry:
    """The process-wide registry: in-tree pruners plus entry points (loaded on first call).

    The pytest plugin passes this object to ``pytest_robustprune_pruners(registry)`` so a
    conftest.py can add its own pruners.
    """
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            registry = PrunerRegistry()
            for name in _IN_TREE.names():
                registry.register(_IN_TREE.get(name), _IN_TREE.origin(name))
            registry.load_entry_points()
            _DEFAULT = registry
        return _DEFAULT


def reset_default_registry() -> None:
    """Forget the process-wide registry so the next ``default_registry()`` rebuilds it (tests)."""
    global _DEFAULT
    with _LOCK:
        _DEFAULT = None
