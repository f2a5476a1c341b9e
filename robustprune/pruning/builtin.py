"""The built-in methods (WT, SiPP, FT, PFP) and the process-wide default registry.

This is the one module that imports the methods: they are listed once, in ``BUILTIN_PRUNERS``.
``default_registry()`` holds them, anything added with ``@register_pruner`` and the entry
points of the group ``robustprune.pruners``.
"""

from __future__ import annotations

import threading

from robustprune.pruning.base import Pruner, PrunerRegistry
from robustprune.pruning.filters import FilterThresholding
from robustprune.pruning.magnitude import WeightThresholding
from robustprune.pruning.pfp import ProvableFilterPruning
from robustprune.pruning.sipp import SiPP

BUILTIN_PRUNERS: tuple[type[Pruner], ...] = (
    WeightThresholding,
    SiPP,
    FilterThresholding,
    ProvableFilterPruning,
)

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
