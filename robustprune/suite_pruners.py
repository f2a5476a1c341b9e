"""A suite's methods with parameters: one pruner class under several labels.

``methods`` lists method labels. A label with a ``[pruners.<label>]`` table runs the registered
pruner class named by its ``pruner`` key, built with every other key of the table as a keyword
argument::

    methods = ["WT", "Random", "random_seed1"]

    [pruners.random_seed1]
    pruner = "Random"      # a registered pruner class (`robustprune list pruners`)
    seed = 1               # Random(seed=1)

Any other label is a registered pruner's name, built without arguments. The label names the
method in case ids, leaderboards and reports; the class name and the arguments name it in cache
keys and records. Imports no torch.
"""

from __future__ import annotations

import datetime
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustprune.suite_reader import SuiteError, TableReader, did_you_mean

TABLE = "pruners"
"""The top-level table of a suite holding one sub-table per parameterised label."""

CLASS_KEY = "pruner"
"""The key of a ``[pruners.<label>]`` table naming the registered pruner class."""

LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+]{0,59}")
"""A label: it becomes part of case ids (``<suite>-<arch>-<label>``, where ``-`` separates
the fields) and of leaderboard keys."""

LABEL_RULE = "1-60 letters, digits, '_', '.', ':' or '+', starting with a letter or digit"


@dataclass(frozen=True)
class MethodSpec:
    """What one method label of a suite runs: a registered pruner class and its arguments."""

    label: str
    pruner: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """``[pruners.<label>]``, or ``method 'WT'`` for a pruner listed by its own name."""
        return f"method {self.label!r}" if self.label == self.pruner else f"[{TABLE}.{self.label}]"

    def create(self, registry: Any, path: Path | str = "suite") -> Any:
        """A new instance of the pruner class with the arguments.

        Raises :class:`SuiteError` naming the suite file, the label and the problem: an unknown
        class, an argument the class does not accept (listing the ones it does), a missing
        required one, or the error its constructor raised.
        """
        self.check_class(registry.names(), path)
        cls = registry.get(self.pruner)
        problem = argument_problem(cls, self.arguments)
        if problem is not None:
            raise SuiteError(f"{path}: {self.where} (pruner {self.pruner!r}): {problem}")
        try:
            return cls(**self.arguments)
        except Exception as error:  # noqa: BLE001 - the class's own check of its arguments
            call = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
            raise SuiteError(
                f"{path}: {self.where}: {cls.__qualname__}({call}) raised "
                f"{type(error).__name__}: {error}"
            ) from None

    def check_class(self, registered: list[str], path: Path | str) -> None:
        """Raise :class:`SuiteError` when the pruner class is not registered."""
        if self.pruner not in registered:
            raise SuiteError(
                f"{path}: {self.where} names pruner {self.pruner!r}, which is not registered"
                f"{did_you_mean(self.pruner, registered)}; valid: {sorted(registered)}"
            )

    def describe(self) -> str:
        """``random_seed1 = SeededRandom(seed=1)`` for a label with a table, else the name."""
        if self.label == self.pruner:
            return self.label
        call = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
        return f"{self.label} = {self.pruner}({call})"

    def record(self) -> dict[str, Any]:
        """The record's ``pruner`` field: ``{"class": name, "arguments": {...}}``."""
        return {"class": self.pruner, "arguments": dict(self.arguments)}


def accepted_arguments(cls: type) -> list[str]:
    """The keyword arguments ``cls(...)`` accepts by name."""
    return [
        parameter.name
        for parameter in _parameters(cls)
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    ]


def _parameters(cls: type) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):  # no signature to read (a C-implemented __init__)
        return []


def argument_problem(cls: type, arguments: Mapping[str, Any]) -> str | None:
    """Why ``cls(**arguments)`` cannot be called, or None when the arguments fit its signature."""
    parameters = _parameters(cls)
    accepted = accepted_arguments(cls)
    shown = ", ".join(accepted) or "none"
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
    unknown = [name for name in arguments if name not in accepted]
    if unknown and not takes_any:
        hint = did_you_mean(unknown[0], accepted)
        return (
            f"argument {unknown[0]!r}{hint} is not accepted by {cls.__qualname__}; "
            f"its arguments: {shown}"
        )
    missing = [
        p.name
        for p in parameters
        if p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in arguments
    ]
    if missing:
        return f"{cls.__qualname__} needs the argument {missing[0]!r}; its arguments: {shown}"
    return None


def parse_pruner_tables(top: TableReader, methods: tuple[str, ...]) -> dict[str, MethodSpec]:
    """The ``[pruners.<label>]`` tables of a suite, each checked; ``methods`` is the suite's
    ``methods`` list (a label must be listed there unless the list is empty)."""
    tables = top.raw.get(TABLE, {})
    reader = top.table(TABLE, tables if isinstance(tables, dict) else ())
    specs = {}
    for label in reader.raw:
        if not LABEL.fullmatch(label):
            raise SuiteError(
                f"{top.path}: label {label!r} in [{TABLE}]: a label has {LABEL_RULE} (it "
                "becomes part of case ids such as digits-resnet20-<label>)"
            )
        raw = reader.raw[label]
        table = TableReader(
            raw, top.path, f"[{TABLE}.{label}]", raw if isinstance(raw, dict) else ()
        )
        name = table.get(CLASS_KEY, str)
        if not name.strip():
            raise table.fail(CLASS_KEY, "must name a registered pruner class, got ''")
        arguments = {key: value for key, value in table.raw.items() if key != CLASS_KEY}
        for key, value in arguments.items():
            if _has_time(value):
                raise table.fail(
                    key, f"is a TOML date or time ({value!r}); pruner arguments must be numbers, "
                    "strings, booleans, arrays or tables",
                )  # fmt: skip
        specs[label] = MethodSpec(label, name, arguments)
    if methods:
        unlisted = [label for label in specs if label not in methods]
        if unlisted:
            raise SuiteError(
                f"{top.path}: [{TABLE}.{unlisted[0]}] defines a method that 'methods' "
                f"{list(methods)} does not list; add {unlisted[0]!r} to 'methods' or remove "
                "the table"
            )
    return specs


def _has_time(value: Any) -> bool:
    if isinstance(value, datetime.date | datetime.time):
        return True
    if isinstance(value, list):
        return any(_has_time(item) for item in value)
    if isinstance(value, dict):
        return any(_has_time(item) for item in value.values())
    return False


def check_labels(specs: Mapping[str, MethodSpec], registered: list[str], path: Path | str) -> None:
    """Every label is new (not a registered pruner's name) and names a registered class."""
    for label, spec in specs.items():
        if label in registered:
            raise SuiteError(
                f"{path}: [{TABLE}.{label}]: {label!r} is a registered pruner's name, which "
                "always means that pruner without arguments; choose another label"
            )
        spec.check_class(registered, path)
