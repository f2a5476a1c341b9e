"""Progress of long work, so a run is never silent: lines appended to a shared file and echoed.

Under pytest-xdist the workers' output does not reach the terminal while a test runs, so each
worker appends its lines to one progress file and the controller echoes new lines as they
arrive (:class:`ProgressTail`). Without workers the lines are printed directly.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

PROGRESS_ENV = "ROBUSTPRUNE_PROGRESS_FILE"


def file_sink(path: str | Path, prefix: str) -> Callable[[str], None]:
    """A progress callback appending ``"<prefix> <line>"`` to ``path`` (one write per line)."""
    path = Path(path)

    def write(line: str) -> None:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(f"{prefix} {line}\n")

    return write


class ProgressTail:
    """Echoes lines appended to a file, from a background thread, until stopped."""

    def __init__(
        self, path: str | Path, echo: Callable[[str], None], interval: float = 0.5
    ) -> None:
        self.path, self.echo, self.interval = Path(path), echo, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="robustprune-progress", daemon=True)
        self._offset = 0

    def start(self) -> ProgressTail:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Echo what is left, then stop the thread and delete the file."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()
        self.path.unlink(missing_ok=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._drain()

    def _drain(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as stream:
                stream.seek(self._offset)
                chunk = stream.read()
        except FileNotFoundError:
            return
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            self.echo(line)


def new_progress_path(directory: str | Path) -> Path:
    """A fresh progress file name for this run under ``directory``."""
    return Path(directory) / "progress" / f"run-{os.getpid()}-{int(time.time() * 1000)}.log"
