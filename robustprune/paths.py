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
