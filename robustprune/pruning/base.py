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
from typing import ClassVar

from torch import nn

from robustprune.extensions import PluginWarning, broken_note, load_group
from robustprune.pruning.masks import Masks
from robustprune.pruning.sample import Sample

ENTRY_POINT_GROUP = "robustprune.pruners"


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


class PrunerRegistryError(ValueError):
    """A pruner class that cannot be registered (duplicate name, missing attributes)."""


class PrunerPluginWarning(PluginWarning):
    """A pruner plugin (entry point) could not be loaded and is disabled."""


class UnknownPrunerError(KeyError):
    """A pruner name nobody registered."""

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])


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


class PrunerRegistry:
    """Pruner classes by name; a duplicate name raises naming both origins, listing is sorted."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Pruner]] = {}
        self._origins: dict[str, str] = {}
        self._broken: dict[str, str] = {}

    def register(self, cls: type[Pruner], origin: str) -> type[Pruner]:
        """Add ``cls`` under ``cls.name``; ``origin`` says where it came from (shown in errors)."""
        cls = _check_pruner_class(cls, origin)
        if cls.name in self._classes:
            if self._classes[cls.name] is cls and self._origins[cls.name] == origin:
                return cls  # the same class from the same place (e.g. a re-imported conftest)
            raise PrunerRegistryError(
                f"pruner name {cls.name!r} from {origin} is already registered by "
                f"{self._origins[cls.name]} ({self._classes[cls.name].__qualname__})"
            )
        self._classes[cls.name] = cls
        self._origins[cls.name] = origin
        return cls

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests use it to undo a registration)."""
        self.get(name)
        del self._classes[name], self._origins[name]

    def get(self, name: str) -> type[Pruner]:
        """The pruner class called ``name``; unknown names raise listing the valid ones."""
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownPrunerError(
                f"unknown pruner {name!r}; valid pruners: {', '.join(self.names()) or '(none)'}"
                f"{broken_note(self._broken)}"
            ) from None

    def create(self, name: str) -> Pruner:
        """A fresh instance of the pruner called ``name``."""
        return self.get(name)()

    def origin(self, name: str) -> str:
        """Where ``name`` was registered from (``"robustprune"``, ``"entry point ..."``, ...)."""
        self.get(name)
        return self._origins[name]

    def names(self) -> list[str]:
        """All registered names, sorted (every xdist worker must collect the same order)."""
        return sorted(self._classes)

    def broken(self) -> dict[str, str]:
        """Entry points that failed to load, by entry-point name -> why (distribution, error)."""
        return dict(self._broken)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __len__(self) -> int:
        return len(self._classes)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Import and register every entry point of ``group``; returns the names added.

        An entry point that fails to import, is not a valid pruner or takes a name already
        registered is disabled: it is listed by :meth:`broken` and a
        :class:`PrunerPluginWarning` names its distribution and the error. Everything else
        goes on working. The loading is :func:`robustprune.extensions.load_group`, shared with
        the model, dataset, shift and recipe registries.
        """

        def register(entry_name: str, cls: type[Pruner], origin: str) -> str | None:
            if (
                self._origins.get(getattr(cls, "name", "")) == origin
                and cls in self._classes.values()
            ):
                return None  # already loaded from this entry point
            return self.register(cls, origin).name

        return load_group(group, "pruner", register, self._broken, PrunerPluginWarning)
