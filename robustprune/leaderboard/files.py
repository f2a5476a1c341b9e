"""Building leaderboards from records, and reading and writing leaderboard files."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from robustprune.leaderboard.schema import (
    SCHEMA,
    LeaderboardError,
    record_key,
    validate_leaderboard,
)
from robustprune.leaderboard.tables import render_csv, render_markdown


def environment_info(**extra: Any) -> dict[str, Any]:
    """Versions and platform for a leaderboard file (reads package metadata; imports no torch)."""

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
    }
    info.update(extra)
    return info


def make_leaderboard(
    records: Iterable[dict[str, Any]],
    environment: dict[str, Any] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """A schema-1 leaderboard with ``records`` sorted by key; a later duplicate key replaces."""
    by_key = {record_key(record): record for record in records}
    return {
        "schema": SCHEMA,
        "created": created or datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment if environment is not None else environment_info(),
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


def _write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
        _write_atomic(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
