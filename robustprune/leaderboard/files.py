"""Building leaderboards from records, and reading and writing leaderboard files."""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from robustprune.identity import run_provenance
from robustprune.leaderboard.schema import (
    SCHEMA,
    LeaderboardError,
    record_key,
    validate_leaderboard,
)
from robustprune.leaderboard.tables import render_csv, render_markdown
from robustprune.paths import write_atomic


def environment_info(**extra: Any) -> dict[str, Any]:
    """Versions, platform and provenance for a record or a leaderboard file.

    Imports no torch: torch's own facts (CUDA version, GPU model) are read only when torch is
    already imported. ``git_commit`` (with ``git_dirty``) is the checkout robustprune runs
    from, when it runs from one; ``extra`` (e.g. ``device``, ``threads``) is added last.
    """
    info: dict[str, Any] = dict(_static_environment())
    torch = sys.modules.get("torch")
    if torch is not None:
        info["cuda"] = getattr(getattr(torch, "version", None), "cuda", None)
        try:
            if torch.cuda.is_available():
                info["gpu"] = torch.cuda.get_device_name(torch.cuda.current_device())
        except Exception:  # a broken driver must not break a record
            pass
    info.update(extra)
    return info


@functools.cache
def _static_environment() -> tuple[tuple[str, Any], ...]:
    """The facts that do not change within a process (computed once)."""

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    info: dict[str, Any] = {
        "robustprune": version("robustprune"),
        "torch": version("torch"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpu": _cpu_model(),
    }
    info.update(git_state(Path(__file__).resolve().parent))
    return tuple(info.items())


def _cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else platform.processor()) and core count."""
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    return f"{name} ({os.cpu_count()} logical cores)"


def git_state(directory: Path) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` (tracked files modified) of the checkout, or {} outside one."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def make_leaderboard(
    records: Iterable[dict[str, Any]],
    environment: dict[str, Any] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """A leaderboard (current schema) with ``records`` sorted by key; a later duplicate key replaces."""
    by_key = {record_key(record): record for record in records}
    environment = environment if environment is not None else environment_info()
    # the records' machine class(es) and plugins (robustprune.identity.run_provenance)
    environment = {**environment, **run_provenance(by_key.values())}
    return {
        "schema": SCHEMA,
        "created": created or datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment,
        "records": [by_key[key] for key in sorted(by_key)],
    }


def load_leaderboard(path: str | Path) -> dict[str, Any]:
    """Read and validate a leaderboard file; errors name the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LeaderboardError(f"leaderboard file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardError(f"leaderboard file {str(path)!r} cannot be read: {error}") from None
    try:
        leaderboard = json.loads(text)
    except json.JSONDecodeError as error:
        raise LeaderboardError(
            f"leaderboard file {str(path)!r} is not valid JSON: {error}"
        ) from None
    try:
        validate_leaderboard(leaderboard)
    except LeaderboardError as error:
        raise LeaderboardError(f"leaderboard file {str(path)!r}: {error}") from None
    return leaderboard


def dumps(leaderboard: dict[str, Any]) -> str:
    """The canonical JSON text of a leaderboard (strict JSON: no NaN)."""
    return json.dumps(leaderboard, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_leaderboard(leaderboard: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Validate, then write leaderboard.json, .md and .csv into ``out_dir``; return the paths."""
    validate_leaderboard(leaderboard)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "leaderboard.json": dumps(leaderboard),
        "leaderboard.md": render_markdown(leaderboard),
        "leaderboard.csv": render_csv(leaderboard),
    }
    paths = []
    for name, text in outputs.items():
        write_atomic(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
