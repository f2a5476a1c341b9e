"""Run history: each run's leaderboard stored under ``<history>/<suite>/<time>-<commit>/``.

Like pytest-benchmark's autosave: ``pytest benchmarks/ --rp-autosave`` stores the leaderboard
files plus ``run.json`` (provenance: time, commit of the checkout, command line, suite,
environment), and ``--rp-compare latest`` compares with the newest stored run of the same
suite. Imports no torch.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from robustprune.identity import run_provenance
from robustprune.leaderboard import write_leaderboard
from robustprune.leaderboard.files import git_state
from robustprune.machine import class_of
from robustprune.paths import default_cache_root

HISTORY_ENV = "ROBUSTPRUNE_HISTORY"
RUN_FILE = "run.json"
RUN_SCHEMA = 1
LATEST = "latest"
_RUN_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-z]+(-\d+)?$")


class HistoryError(ValueError):
    """A history directory or stored run that cannot be used; the message says which and why."""


def default_history_dir(cache: Path | None = None) -> Path:
    """``$ROBUSTPRUNE_HISTORY``, else ``<cache>/history`` (the artifact cache's, by default)."""
    explicit = os.environ.get(HISTORY_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return (cache or default_cache_root()) / "history"


@dataclass(frozen=True)
class StoredRun:
    """One stored run: its directory and its ``run.json``."""

    path: Path
    provenance: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def suite(self) -> str:
        return self.path.parent.name

    @property
    def leaderboard(self) -> Path:
        return self.path / "leaderboard.json"


def run_name(created: datetime, commit: str | None, taken: Collection[str] = ()) -> str:
    """``20261128T181040Z-82fec3a`` (UTC time, short commit or ``nogit``), unique in ``taken``."""
    name = f"{created.astimezone(UTC):%Y%m%dT%H%M%SZ}-{(commit or 'nogit')[:7]}"
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name}-{count}"
    return candidate


def save_run(
    leaderboard: dict[str, Any],
    history: Path,
    checkout: Path,
    command: list[str],
    created: datetime | None = None,
) -> StoredRun:
    """Store ``leaderboard`` as a new run of its suite; returns the stored run.

    ``checkout`` is the directory whose git commit names the run (pytest's rootdir).
    """
    suites = sorted({record["suite"] for record in leaderboard["records"]})
    if len(suites) != 1:
        raise HistoryError(f"a stored run holds one suite; this leaderboard has {suites}")
    created = created or datetime.now(UTC)
    git = git_state(checkout)
    directory = history / suites[0]
    directory.mkdir(parents=True, exist_ok=True)
    taken = {path.name for path in directory.iterdir()}
    path = directory / run_name(created, git.get("git_commit"), taken)
    path.mkdir()
    write_leaderboard(leaderboard, path)
    provenance = {
        "schema": RUN_SCHEMA,
        "created": created.astimezone(UTC).isoformat(timespec="seconds"),
        "suite": suites[0],
        "records": len(leaderboard["records"]),
        "checkout": str(checkout),
        "git_commit": git.get("git_commit"),
        "git_dirty": git.get("git_dirty"),
        "command": command,
        "environment": leaderboard.get("environment", {}),
    }
    # the machine class and every plugin (distribution, version, source digest) of the records
    provenance.update(run_provenance(leaderboard["records"]))
    (path / RUN_FILE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return StoredRun(path, provenance)


def list_runs(history: Path, suite: str | None = None) -> list[StoredRun]:
    """Stored runs, oldest first (by name, i.e. by time), of ``suite`` or of every suite."""
    if not history.is_dir():
        return []
    suites = [history / suite] if suite else sorted(p for p in history.iterdir() if p.is_dir())
    runs = []
    for directory in suites:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if not (_RUN_NAME.match(path.name) and (path / "leaderboard.json").is_file()):
                continue
            try:
                provenance = json.loads((path / RUN_FILE).read_text())
            except (OSError, ValueError):
                provenance = {}
            runs.append(StoredRun(path, provenance if isinstance(provenance, dict) else {}))
    return sorted(runs, key=lambda run: (run.name, run.suite))


def latest_run(history: Path, suite: str) -> StoredRun | None:
    """The newest stored run of ``suite``, or None when there is none."""
    runs = list_runs(history, suite)
    return runs[-1] if runs else None


def describe(run: StoredRun) -> str:
    """One line for ``robustprune history``: suite, run, records, commit, machine class (when
    recorded), command."""
    info = run.provenance
    commit = (info.get("git_commit") or "no git")[:12] + (
        " (dirty)" if info.get("git_dirty") else ""
    )
    command = " ".join(info.get("command") or [])
    machine = class_of(info) or class_of(info.get("environment"))
    where = f"  [{machine}]" if machine else ""
    return (
        f"{run.suite}  {run.name}  {info.get('records', '?')} record(s)  {commit}{where}  {command}"
    ).rstrip()
