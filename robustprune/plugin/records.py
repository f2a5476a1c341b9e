"""Getting each case's record from whichever process ran it to the controller.

A case calls ``rp_record(record)``; the record is validated and stored as JSON text in the
test item's ``user_properties``. pytest puts user properties in every test report and
pytest-xdist ships reports to the controller, so the controller sees the same records in the
same form with ``-n 0`` or ``-n 8``; it collects them from the "call" report, passed or failed
(or from the setup report when a fixture after the recording one failed and no call follows).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from robustprune.leaderboard import (
    Key,
    LeaderboardError,
    make_leaderboard,
    record_key,
    validate_record,
)

PROPERTY = "robustprune_record"
"""Name of the ``user_properties`` entry that carries a record's JSON text."""


def is_worker(config: pytest.Config) -> bool:
    """True inside a pytest-xdist worker process (records are collected on the controller)."""
    return hasattr(config, "workerinput")


def make_recorder(item: pytest.Item) -> Callable[[dict[str, Any]], None]:
    """The ``rp_record`` callable for one test item: validate, then attach to the item."""

    def record(data: dict[str, Any]) -> None:
        """Attach this case's record (docs/records.md) so it reaches the leaderboard."""
        if any(name == PROPERTY for name, _ in item.user_properties):
            raise RuntimeError(f"rp_record called twice in {item.nodeid}; a case has one record")
        try:
            validate_record(data)
            text = json.dumps(data, sort_keys=True, allow_nan=False)
        except (LeaderboardError, TypeError, ValueError) as error:
            raise LeaderboardError(f"invalid record from {item.nodeid}: {error}") from None
        item.user_properties.append((PROPERTY, text))

    return record


class RecordCollector:
    """The controller's records, keyed by (suite, dataset, arch, method)."""

    def __init__(self) -> None:
        self._records: dict[Key, dict[str, Any]] = {}
        self._sources: dict[Key, str] = {}
        self.duplicates: list[tuple[Key, str, str]] = []
        """(key, first nodeid, later nodeid) for keys recorded more than once; the later wins."""

    def add_report(self, report: pytest.TestReport) -> list[dict[str, Any]]:
        """Take the records out of a "call" report, or of a failed setup (no call follows)."""
        if not (report.when == "call" or report.when == "setup" and not report.passed):
            return []
        found = []
        for name, text in report.user_properties:
            if name != PROPERTY:
                continue
            record = json.loads(text)
            key = record_key(record)
            if key in self._sources and self._sources[key] != report.nodeid:
                self.duplicates.append((key, self._sources[key], report.nodeid))
            self._records[key] = record
            self._sources[key] = report.nodeid
            found.append(record)
        return found

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[dict[str, Any]]:
        """Records sorted by key, so the order never depends on scheduling."""
        return [self._records[key] for key in sorted(self._records)]

    def leaderboard(self, environment: dict[str, Any] | None = None) -> dict[str, Any]:
        """A leaderboard (``robustprune.leaderboard.make_leaderboard``) of everything collected."""
        return make_leaderboard(self.records(), environment)


def devices(records: Iterable[dict[str, Any]]) -> str:
    """The devices the records ran on, e.g. ``"cpu"`` or ``"cuda:0, cuda:1"``."""
    names = sorted(
        {str(record.get("environment", {}).get("device", "unknown")) for record in records}
    )
    return ", ".join(names) or "unknown"
