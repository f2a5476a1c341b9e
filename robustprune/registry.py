"""One registry type for every kind of extension: pruners, models, datasets, shifts, recipes.

A :class:`Registry` maps names to objects, each with the origin it came from (``robustprune
(robustprune.models.resnet)``, ``entry point 'tinynet' (mydigits:tinynet) in
robustprune.models``, ``conftest.py``). A name registered twice from different places is refused
naming both origins; an unknown name raises :class:`UnknownNameError` listing the valid names,
the closest one and the plugins that failed to load. Imports no torch and no pytest.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from robustprune.extensions import GROUPS, PluginWarning, broken_note, load_group

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name no registry holds; the message lists the valid names (catch as KeyError or
    ValueError)."""

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0]) if self.args else ""


class RegistrationError(ValueError):
    """An object that cannot be registered: its name is taken by another origin, or it is not an
    object of the registry's kind."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""`` when none is close."""
    by_lower = {choice.lower(): choice for choice in sorted(choices, key=str)}
    close = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


class Registry(Generic[T]):
    """Objects of one kind by name, each with its origin; the entry points of the kind's group
    (``robustprune.<kind>``) are loaded once per process, on first use.

    ``check(name, obj, origin) -> T`` turns what a plugin registers into the stored object (a
    model constructor into its ``ModelInfo``, say) and raises ``TypeError`` for an object of the
    wrong kind; ``hint`` adds the valid forms a listing does not show to unknown-name errors;
    ``code_of(obj)`` is the function or class behind a stored object, named in duplicate errors;
    ``listing()`` is what a user lists (default: the names).
    """

    def __init__(
        self,
        kind: str,
        check: Callable[[str, Any, str], T] | None = None,
        hint: str = "",
        code_of: Callable[[T], Any] | None = None,
        listing: Callable[[], list[str]] | None = None,
        error: type[RegistrationError] = RegistrationError,
        warning: type[PluginWarning] = PluginWarning,
    ) -> None:
        if kind not in GROUPS:
            raise ValueError(f"unknown registry kind {kind!r}; valid kinds: {', '.join(GROUPS)}")
        self.kind = kind
        self.noun = kind.removesuffix("s")
        self._check = check
        self._hint = hint
        self._code_of = code_of or (lambda obj: obj)
        self._listing = listing
        self._error = error
        self._warning = warning
        self._objects: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._broken: dict[str, str] = {}
        self._builtins: set[str] | None = None  # what was registered before plugins loaded
        self._state = "new"  # "new" -> "loading" -> "loaded"
        self._lock = threading.RLock()

    def register(self, name: str, obj: Any, origin: str) -> T:
        """Add ``obj`` under ``name`` from ``origin``; the same object from the same origin again
        is a no-op, a name taken from elsewhere raises naming both origins."""
        stored = self._check(name, obj, origin) if self._check is not None else obj
        if name in self._objects:
            if self._origins[name] == origin and self._same(self._objects[name], stored):
                return self._objects[name]
            raise self._error(
                f"{self.noun} {name!r} from {origin} is already registered by "
                f"{self._origins[name]}{self._code(self._objects[name])}; pick another name"
            )
        self._objects[name] = stored
        self._origins[name] = origin
        return stored

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and plugins that register for a while)."""
        self.get(name)
        del self._objects[name], self._origins[name]

    def get(self, name: str) -> T:
        """The object registered as ``name``; :class:`UnknownNameError` lists the valid names."""
        self.load_entry_points()
        try:
            return self._objects[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def unknown(
        self, name: Any, valid: Iterable[str] | None = None, noun: str | None = None
    ) -> UnknownNameError:
        """The error for ``name`` (a ``noun``, default the registry's): the closest valid name,
        all of them (default: every registered name), the disabled plugins."""
        names = sorted(self.names() if valid is None else valid)
        noun = noun or self.noun
        return UnknownNameError(
            f"unknown {noun} {name!r}{did_you_mean(name, names)}; valid {noun}s: "
            f"{', '.join(names) or '(none)'}{self._hint}{broken_note(self._broken)}"
        )

    def origin(self, name: str) -> str:
        """Where ``name`` was registered from."""
        self.get(name)
        return self._origins[name]

    def names(self) -> list[str]:
        """Every registered name, sorted (every xdist worker must collect the same order)."""
        self.load_entry_points()
        return sorted(self._objects)

    def listing(self) -> list[str]:
        """What ``robustprune list <kind>`` shows: the names, or every concrete shift name."""
        return self._listing() if self._listing is not None else self.names()

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs, sorted by name."""
        self.load_entry_points()
        return sorted(self._objects.items(), key=lambda item: item[0])

    def broken(self) -> dict[str, str]:
        """Disabled entry points: entry-point name -> why (distribution, error)."""
        self.load_entry_points()
        return dict(self._broken)

    def __contains__(self, name: object) -> bool:
        self.load_entry_points()
        return name in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def load_entry_points(self) -> list[str]:
        """Register the group's entry points the first time this is called; the names added.

        An entry point that fails to import, holds an object of the wrong kind or takes a name
        already registered is disabled: :meth:`broken` lists it and a warning names its
        distribution and the error. Everything else goes on working.
        """
        with self._lock:
            if self._state != "new":  # loaded, or a plugin's import looked a name up meanwhile
                return []
            self._state = "loading"
            self._builtins = set(self._objects)
            try:
                return load_group(
                    GROUPS[self.kind], self.noun, self._register_entry_point, self._broken,
                    self._warning,
                )  # fmt: skip
            finally:
                self._state = "loaded"

    def reset(self) -> None:
        """Forget everything registered since the entry points were loaded, and load them again
        on next use (tests)."""
        with self._lock:
            if self._builtins is not None:
                for name in set(self._objects) - self._builtins:
                    del self._objects[name], self._origins[name]
            self._broken.clear()
            self._builtins = None
            self._state = "new"

    def snapshot(self) -> tuple:
        """Everything this registry holds, for ``restore`` (tests that reset it for a while)."""
        with self._lock:
            return (
                dict(self._objects),
                dict(self._origins),
                dict(self._broken),
                None if self._builtins is None else set(self._builtins),
                self._state,
            )

    def restore(self, snapshot: tuple) -> None:
        """Hold again exactly what ``snapshot`` held: names registered meanwhile are gone, and
        names registered before it (by other tests or plugins) are back."""
        objects, origins, broken, builtins, state = snapshot
        with self._lock:
            self._objects, self._origins, self._broken = dict(objects), dict(origins), dict(broken)
            self._builtins = None if builtins is None else set(builtins)
            self._state = state

    def _register_entry_point(self, name: str, obj: Any, origin: str) -> str | None:
        """How an entry point registers: under its own name (pruners override this)."""
        if self._origins.get(name) == origin:
            return None  # already loaded from this entry point
        self.register(name, obj, origin)
        return name

    @staticmethod
    def _same(held: Any, new: Any) -> bool:
        return held is new or held == new

    def _code(self, obj: T) -> str:
        """`` (module.function)`` of the code behind ``obj``, or ``""`` for plain data."""
        code = self._code_of(obj)
        if callable(code) and hasattr(code, "__qualname__"):
            return f" ({code.__module__}.{code.__qualname__})"
        return ""
