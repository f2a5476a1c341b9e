"""Default locations on disk; imports nothing heavy, so the pytest plugin can use it."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_root() -> Path:
    """``$ROBUSTPRUNE_CACHE``, else ``$XDG_CACHE_HOME/robustprune/artifacts`` (``~/.cache``)."""
    explicit = os.environ.get("ROBUSTPRUNE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "robustprune" / "artifacts"


MAX_NAME_LENGTH = 100
"""Longest name that becomes one file or directory name (a suite's run history folder)."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be used as one file or directory name, or None when it can.

    Names that become paths (a suite's ``name`` names its run history folder) must stay one
    component: no path separators, no control characters, not ``.``-led, and bounded length.
    """
    if not name.strip():
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    bad = sorted({char for char in name if char in "/\\" or not char.isprintable()})
    if bad:
        shown = ", ".join(repr(char) for char in bad)
        return f"contains {shown}; it names a folder, so no path separators or control characters"
    if name.startswith("."):
        return "starts with '.'; it names a folder, so it may not be hidden or '..'"
    if name != name.strip():
        return "starts or ends with whitespace"
    return None
