"""Default locations on disk; imports nothing heavy, so the pytest plugin can use it."""

from __future__ import annotations

import os
import tempfile
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


def current_umask() -> int:
    """This process's umask (read from /proc where possible: setting it to ask is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so a reader sees either the old file or all of the new one.

    The file gets the permissions the umask gives any new file (``0o666 & ~umask``): the
    temporary file ``mkstemp`` makes is private (0600), so a lab-shared cache, leaderboard or
    history folder would otherwise be unreadable to colleagues.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX; elsewhere the file keeps what mkstemp gave it
            os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:  # "File too large" (ulimit -f), a full disk: say which file
        Path(temporary).unlink(missing_ok=True)
        if error.filename is not None:
            raise
        raise type(error)(error.errno, f"{error.strerror or error} (writing)", str(path)) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
