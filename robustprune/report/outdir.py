"""The report's output directory: never touch a file an earlier report did not write.

A report writes ``MANIFEST`` (the list of files it wrote) next to ``index.html``. Writing
into a directory is allowed when it is missing or empty, or when everything in it was written
by an earlier report (listed in its manifest, or the manifest-less layout of older versions:
an ``index.html`` titled "robustprune report", ``leaderboard.json`` and the ``figures/*.png|svg``
that page links to, and nothing else). Then the earlier report's files that the new one does
not rewrite are removed; nothing else ever is: a figure the old page does not link to (a file
of the user's own in ``figures/``) makes the directory foreign.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

MANIFEST = ".robustprune-report.json"
LEGACY_FILES = ("index.html", "leaderboard.json")
LEGACY_FIGURES = "figures"
LEGACY_TITLE = "<title>robustprune report</title>"


class ReportDirectoryError(ValueError):
    """The output directory holds files a report did not write, or is not a directory."""


def earlier_report_files(out_dir: Path) -> set[str]:
    """Relative paths of the earlier report in ``out_dir`` (empty when none); raises when
    ``out_dir`` holds anything else."""
    if not out_dir.exists():
        return set()
    if not out_dir.is_dir():
        raise ReportDirectoryError(f"report directory {out_dir} exists and is not a directory")
    present = {
        path.relative_to(out_dir).as_posix() for path in out_dir.rglob("*") if not path.is_dir()
    }
    listed = _manifest(out_dir)
    if listed is None:  # no manifest: an older report, or someone else's files
        page = _report_page(out_dir / "index.html")
        linked = _linked_figures(page) if page is not None else set()
        listed = {name for name in present if name in LEGACY_FILES or name in linked}
        if "index.html" not in listed or page is None:
            listed = set()
    foreign = sorted(present - listed - {MANIFEST})
    if foreign:
        shown = ", ".join(repr(name) for name in foreign[:3])
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise ReportDirectoryError(
            f"report directory {out_dir} holds files a robustprune report did not write "
            f"({shown}{more}); nothing was changed. Choose a new or empty directory, e.g. "
            f"{out_dir / 'report'}"
        )
    return listed & present


def _report_page(path: Path) -> str | None:
    """The text of an ``index.html`` that a robustprune report wrote (its title says so), or None."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text if LEGACY_TITLE in text[:4096] else None


def _linked_figures(page: str) -> set[str]:
    """The ``figures/*.png|svg`` an older report's page shows or links to."""
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    return {
        name
        for name in map(html.unescape, links)
        if name.startswith(f"{LEGACY_FIGURES}/") and name.endswith((".png", ".svg"))
    }


def _manifest(out_dir: Path) -> set[str] | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
        return None
    return set(files)


class ReportDirectory:
    """The files one report writes into ``out_dir``: claim each before writing it, then finish.

    The manifest lists every claimed file before it is written, so a report that fails or is
    killed halfway leaves a directory the next report may still write into.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.earlier = earlier_report_files(out_dir)
        self.claimed: set[str] = set()
        out_dir.mkdir(parents=True, exist_ok=True)

    def claim(self, path: Path) -> Path:
        """Record ``path`` (inside ``out_dir``) as this report's, then return it for writing."""
        self.claimed.add(path.relative_to(self.out_dir).as_posix())
        self._write_manifest(self.earlier | self.claimed)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def finish(self) -> None:
        """Remove the earlier report's files this one did not rewrite; keep only ours listed."""
        for stale in sorted(self.earlier - self.claimed):
            (self.out_dir / stale).unlink(missing_ok=True)
        self._write_manifest(self.claimed)

    def _write_manifest(self, names: set[str]) -> None:
        (self.out_dir / MANIFEST).write_text(
            json.dumps({"files": sorted(names)}, indent=1) + "\n", encoding="utf-8"
        )
