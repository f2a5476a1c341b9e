"""Leaderboards shipped with robustprune as comparison baselines, one per shipped suite.

``<this package>/<suite name>.json`` is a cold run of that suite, committed as the baseline that
CI gates against. This package is the one place those files live: ``--rp-compare digits`` and
``robustprune compare digits CURRENT.json`` find them by name from any directory, and tests and
scripts ask :func:`shipped_baseline` for the path. Imports nothing heavy (the plugin uses it).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BASELINES_DIR",
    "BaselineError",
    "list_baselines",
    "resolve_baseline",
    "shipped_baseline",
]

BASELINES_DIR = Path(__file__).resolve().parent
"""The directory of the shipped baseline files (installed as package data)."""


class BaselineError(ValueError):
    """A baseline name that is not shipped and names no file; the message lists the shipped ones."""


def list_baselines() -> list[str]:
    """The names of the shipped baselines (their suites' names), sorted."""
    return sorted(path.stem for path in BASELINES_DIR.glob("*.json"))


def shipped_baseline(name: str) -> Path:
    """The leaderboard file of shipped baseline ``name``; BaselineError listing the valid names."""
    names = list_baselines()
    if name not in names:
        raise BaselineError(
            f"no shipped baseline {name!r}; shipped baselines: {', '.join(names) or 'none'}"
        )
    return BASELINES_DIR / f"{name}.json"


def is_baseline_name(value: str) -> bool:
    """Whether ``value`` reads as a baseline's name rather than a path: no separator, no suffix."""
    return bool(value) and not any(char in value for char in "/\\~") and "." not in value


def resolve_baseline(value: str) -> Path:
    """A baseline given on the command line: an existing path as given, else a shipped name.

    A value that exists on disk, or that reads as a path (a separator or a suffix such as
    ``.json``), is a path; anything else is a shipped baseline's name (``digits``). An unknown
    name raises BaselineError naming the value and listing the shipped baselines.
    """
    path = Path(value).expanduser()
    if path.exists() or not is_baseline_name(value):
        return path
    if value in list_baselines():
        return shipped_baseline(value)
    raise BaselineError(
        f"{value!r} is neither a file in {Path.cwd()} nor a shipped baseline; shipped "
        f"baselines: {', '.join(list_baselines()) or 'none'} (or give a leaderboard file such as "
        "out/leaderboard.json)"
    )
