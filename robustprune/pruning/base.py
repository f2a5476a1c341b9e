"""The Pruner contract and the registry class that turns pruners into benchmark cases.

A pruner is a class with ``name``, ``structured`` and ``data_informed`` and a ``prune`` method
returning boolean keep-masks. The built-in methods are listed in builtin.py (which also holds
the process-wide registry and ``@register_pruner`` for other in-tree pruners), so this module
imports no method; third-party packages declare an entry point in the group
``robustprune.pruners``; a conftest.py implements the plugin hook
``pytest_robustprune_pruners(registry)`` and calls ``registry.register``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from torch import nn

from robustprune.extensions import GROUPS, PluginWarning
from robustprune.pruning.masks import Masks
from robustprune.pruning.sample import Sample
from robustprune.registry import RegistrationError, Registry, UnknownNameError

ENTRY_POINT_GROUP = GROUPS["pruners"]


class Pruner:
    """Base class of every pruning method: subclasses set the three class attributes and ``prune``."""

    name: ClassVar[str]
    structured: ClassVar[bool]
    data_informed: ClassVar[bool]

    def prune(self, model: nn.Module, prune_ratio: float, sample: Sample) -> Masks:
        """Keep-masks (True = keep) per qualified parameter name so that the achieved prune ratio
        of the whole network (all parameters count) is ``prune_ratio`` in [0, 1).

        ``model`` may already hold zeros from earlier steps (those count as pruned); ``sample``
        is a list of normalized ``(inputs, targets)`` batches on the model's device.
        """
        raise NotImplementedError(f"pruner {type(self).__name__} does not implement prune()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PrunerRegistryError(RegistrationError):
    """A pruner class that cannot be registered (duplicate name, missing attributes)."""


class PrunerPluginWarning(PluginWarning):
    """A pruner plugin (entry point) could not be loaded and is disabled."""


UnknownPrunerError = UnknownNameError
"""A pruner name nobody registered (the name every registry raises)."""


def _check_pruner_class(cls: object, origin: str) -> type[Pruner]:
    if not inspect.isclass(cls):
        raise PrunerRegistryError(f"pruner from {origin} must be a class, got {cls!r}")
    problems = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        problems.append(f"name must be a non-empty str (got {name!r})")
    for flag in ("structured", "data_informed"):
        if not isinstance(getattr(cls, flag, None), bool):
            problems.append(f"{flag} must be a bool (got {getattr(cls, flag, None)!r})")
    if not callable(getattr(cls, "prune", None)) or getattr(cls, "prune", None) is Pruner.prune:
        problems.append("prune(model, prune_ratio, sample) must be implemented")
    if problems:
        raise PrunerRegistryError(
            f"pruner {cls.__qualname__} from {origin}: " + "; ".join(problems)
        )
    return cls  # type: ignore[return-value]


def _summary(cls: type[Pruner]) -> str:
    """The first line of a pruner class's docstring (its one-line description)."""
    doc = inspect.getdoc(cls)
    return doc.splitlines()[0] if doc else "(no description)"


class PrunerRegistry(Registry[type[Pruner]]):
    """Pruner classes by their ``name``; a duplicate name raises naming both origins, listing is
    sorted, entry points of ``robustprune.pruners`` are loaded on first use."""

    def __init__(self) -> None:
        super().__init__(
            "pruners",
            listing=self.described,
            error=PrunerRegistryError,
            warning=PrunerPluginWarning,
        )

    def described(self) -> list[str]:
        """What ``robustprune list pruners`` shows: per pruner, sorted by name, its name, the
        first line of its docstring and its origin in brackets, in aligned columns."""
        names = self.names()
        width = max(map(len, names), default=0)
        return [
            f"{name:<{width}}  {_summary(self.get(name))}  [{self.origin(name)}]" for name in names
        ]

    def register(self, cls: type[Pruner], origin: str) -> type[Pruner]:  # type: ignore[override]
        """Add ``cls`` under ``cls.name``; ``origin`` says where it came from (shown in errors)."""
        cls = _check_pruner_class(cls, origin)
        return super().register(cls.name, cls, origin)

    def create(self, name: str) -> Pruner:
        """A fresh instance of the pruner called ``name``."""
        return self.get(name)()

    def _register_entry_point(self, name: str, cls: Any, origin: str) -> str | None:
        """An entry point's class registers under its own ``name``, not the entry point's."""
        if self._origins.get(getattr(cls, "name", "")) == origin:
            return None  # already loaded from this entry point
        return self.register(cls, origin).name
