"""Typed, complete reading of one TOML table of a suite file, for :mod:`robustprune.suite`.

Every table of a suite is read through a :class:`TableReader`: it knows the table's valid
keys, rejects the others with a did-you-mean, and checks each value's type and range. Errors
are :class:`SuiteError` naming the file, the table, the key, the bad value and what is valid.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path
from typing import Any

from robustprune.registry import did_you_mean

MISSING: Any = object()
TOP = "the top level"


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file, the field and the problem."""


def _type_name(kind: type) -> str:
    return {float: "a number", int: "an integer", bool: "true or false", str: "a string"}.get(
        kind, kind.__name__
    )


class TableReader:
    """Checked access to one table (``where`` is ``"the top level"``, ``"[grid]"``, ...)."""

    def __init__(self, raw: Any, path: Path, where: str, valid: Collection[str]) -> None:
        if not isinstance(raw, dict):
            raise SuiteError(f"{path}: {where} must be a table, got {raw!r}")
        self.raw, self.path, self.where = raw, path, where
        unknown = [key for key in raw if key not in valid]
        if unknown:
            key = unknown[0]
            raise SuiteError(
                f"{path}: unknown key {key!r} in {where}{did_you_mean(key, valid)}; "
                f"valid keys: {sorted(valid)}"
            )

    def fail(self, key: str, problem: str) -> SuiteError:
        return SuiteError(f"{self.path}: {self._name(key)} {problem}")

    def _name(self, key: str) -> str:
        return f"'{key}'" if self.where == TOP else f"'{key}' in {self.where}"

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, kind: type, default: Any = MISSING) -> Any:
        """The value of ``key`` as ``kind`` (an int is accepted as a float; a bool never counts)."""
        if key not in self.raw:
            if default is MISSING:
                raise SuiteError(f"{self.path}: required key {self._name(key)} is missing")
            return default
        return self.check(key, self.raw[key], kind)

    def check(self, key: str, value: Any, kind: type) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            raise self.fail(key, f"must be {_type_name(kind)}, got {value!r}")
        return value

    def number(
        self, key: str, default: float, low: float, high: float, high_open: bool = False
    ) -> float:
        """A float in ``[low, high]`` (``[low, high)`` with ``high_open``); NaN is refused."""
        value = self.get(key, float, default)
        inside = low <= value < high if high_open else low <= value <= high
        if math.isnan(value) or not inside:
            bracket = ")" if high_open else "]"
            raise self.fail(key, f"must be in [{low}, {high}{bracket}, got {value}")
        return value

    def count(self, key: str, default: int, low: int = 1) -> int:
        """An integer >= ``low``."""
        value = self.get(key, int, default)
        if value < low:
            raise self.fail(key, f"must be >= {low}, got {value}")
        return value

    def names(self, key: str, default: Any = MISSING, allow_empty: bool = True) -> list[str]:
        """A list of distinct non-empty strings."""
        value = self.get(key, list, default)
        bad = [item for item in value if not isinstance(item, str) or not item.strip()]
        if bad:
            raise self.fail(key, f"must list non-empty strings, got {bad}")
        repeated = sorted({item for item in value if value.count(item) > 1})
        if repeated:
            raise self.fail(key, f"lists {repeated} more than once")
        if not value and not allow_empty:
            raise self.fail(key, "must list at least one name")
        return value

    def table(self, key: str, valid: Collection[str]) -> TableReader:
        """The sub-table ``key`` (empty when absent), checked against ``valid``."""
        where = f"[{key}]" if self.where == TOP else f"[{self.where[1:-1]}.{key}]"
        return TableReader(self.raw.get(key, {}), self.path, where, valid)
