"""The built-in methods (WT, SiPP, FT, PFP), the ready-made ones and the default registry.

This is the one module that imports the methods: ``robustprune.methods.BUILTIN_METHODS`` and
``READY_MADE_METHODS`` list them once (by name, importable without torch) and
``BUILTIN_PRUNERS`` and ``READY_MADE_PRUNERS`` hold their classes.
``default_registry()`` holds them, anything added with ``@register_pruner`` and the entry
points of the group ``robustprune.pruners``.
"""

from __future__ import annotations

import importlib

from robustprune.methods import BUILTIN_METHODS, READY_MADE_METHODS
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

READY_MADE_PRUNERS: tuple[type[Pruner], ...] = tuple(
    _import_method(label, target) for label, target in READY_MADE_METHODS.items()
)
"""Torch-Pruning's criteria and torch's pruning methods (``READY_MADE_METHODS``)."""

_DEFAULT = PrunerRegistry()
_IN_TREE: list[type[Pruner]] = []


def _origin(cls: type[Pruner]) -> str:
    """``robustprune (<module>)``, or a ready-made method's module's ``ORIGIN`` (the library
    and version it comes from)."""
    ready_made = getattr(importlib.import_module(cls.__module__), "ORIGIN", None)
    return ready_made or f"robustprune ({cls.__module__})"


def register_pruner(cls: type[Pruner]) -> type[Pruner]:
    """Class decorator for in-tree pruners: adds ``cls`` to the default registry."""
    _DEFAULT.register(cls, origin=_origin(cls))
    _IN_TREE.append(cls)
    return cls


for _in_tree in (*BUILTIN_PRUNERS, *READY_MADE_PRUNERS):
    register_pruner(_in_tree)


def default_registry() -> PrunerRegistry:
    """The process-wide registry: in-tree pruners plus entry points (loaded on first call).

    The pytest plugin passes this object to ``pytest_robustprune_pruners(registry)`` so a
    conftest.py can add its own pruners.
    """
    _DEFAULT.load_entry_points()
    return _DEFAULT


def reset_default_registry() -> None:
    """Forget what entry points and hooks added to the process-wide registry; the next
    ``default_registry()`` loads the entry points again (tests)."""
    _DEFAULT.reset()
    for cls in _IN_TREE:
        _DEFAULT.register(cls, origin=_origin(cls))
