"""HTML report and figures for a leaderboard file: `write_report(leaderboard, out_dir)`.

Writes `out_dir/index.html` (sortable leaderboard tables, figures, environment, timings),
`out_dir/figures/*.png` and a copy of the leaderboard as `out_dir/leaderboard.json`. The page
needs no network access. Figures whose data a record lacks are skipped; see docs/report.md.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from robustprune.leaderboard.files import load_leaderboard
from robustprune.leaderboard.schema import SUPPORTED_SCHEMAS
from robustprune.report import figures
from robustprune.report.html import ReportFigure, Section, render_index
from robustprune.report.outdir import ReportDirectory, ReportDirectoryError
from robustprune.report.style import slug

__all__ = ["SUPPORTED_SCHEMAS", "ReportDirectoryError", "write_report"]

JSON_NAME = "leaderboard.json"
FIGURES_DIR = "figures"

Record = dict[str, Any]

# kind -> (figure function over all records of one dataset x arch, caption)
GROUP_FIGURES: dict[str, tuple[Callable[[Sequence[Record]], Figure | None], str]] = {
    "accuracy": (
        figures.accuracy_curves,
        "Accuracy change vs the parent (points) against prune ratio, from the parent at ratio 0; "
        "grey: within δ of the parent (counts toward prune potential); open markers: each "
        "method's prune potential with its interval; bands: 95% bootstrap interval.",
    ),
    "potential": (
        figures.prune_potential_bars,
        "Prune potential (%) per method and distribution with 95% bootstrap intervals (clipped "
        "to [0, 100]); small markers: seeds (▲ at the grid's last point, ▼ PP 0, below its "
        "first); † marks shifts where the parent is at chance (excluded from the summary).",
    ),
    "gap": (
        figures.potential_gap,
        "Nominal vs mean shifted prune potential (%) per method, and their gap (points), with "
        "95% bootstrap intervals and per-seed markers; a gap interval above 0 is a measured "
        "loss under shift.",
    ),
    "excess_error": (
        figures.excess_error,
        "Excess error (points) vs prune ratio (%); dotted: the fitted slope line.",
    ),
}
# kind -> (figure function over one record and its section's records, caption)
RECORD_FIGURES: dict[str, tuple[Callable[[Record, Sequence[Record]], Figure | None], str]] = {
    "similarity": (
        figures.noise_similarity,
        "Similarity to the parent under uniform input noise; dashed: separately trained parent; "
        "the same y-range for every method of this network.",
    ),
    "cross_confidence": (
        figures.cross_confidence,
        "Cross-confidence: row model's confidence on the column model's pixel subset.",
    ),
}


def _readable(leaderboard: dict[str, Any] | Path | str) -> dict[str, Any]:
    """The leaderboard as a dict: a file read and validated by the leaderboard loader, or a
    dict checked for what a report reads (a known schema, a list of records)."""
    if not isinstance(leaderboard, dict):
        return load_leaderboard(leaderboard)
    schema = leaderboard.get("schema")
    if schema not in SUPPORTED_SCHEMAS:
        raise ValueError(
            f"leaderboard schema {schema!r} is not supported; supported: {list(SUPPORTED_SCHEMAS)}"
        )
    records = leaderboard.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(
            f"leaderboard 'records' must be a list of record objects, got {type(records).__name__}"
        )
    return leaderboard


def _sections(records: Sequence[Record]) -> list[Section]:
    """Records grouped by (suite, dataset, arch), in order of first appearance."""
    sections: dict[tuple[str, str, str], Section] = {}
    for record in records:
        key = (
            str(record.get("suite", "?")),
            str(record.get("dataset", "?")),
            str(record.get("arch", "?")),
        )
        if key not in sections:
            sections[key] = Section(*key, records=[])
        sections[key].records.append(record)
    return list(sections.values())


def _save(
    figure: Figure | None, target: ReportDirectory, name: str, kind: str, caption: str
) -> ReportFigure | None:
    if figure is None:
        return None
    base = target.out_dir / FIGURES_DIR / name
    for suffix in (".png", ".svg"):  # what figures.save_figure writes
        target.claim(base.with_suffix(suffix))
    png, svg = figures.save_figure(figure, base)
    return ReportFigure(
        kind=kind,
        caption=caption,
        path=f"{FIGURES_DIR}/{png.name}",
        svg=f"{FIGURES_DIR}/{svg.name}",
    )


def write_report(leaderboard: dict[str, Any] | Path | str, out_dir: Path | str) -> Path:
    """Render `leaderboard` (a dict or a leaderboard JSON file) into `out_dir`; returns index.html's path.

    `out_dir` must be missing, empty, or hold only an earlier report (see
    :mod:`robustprune.report.outdir`); otherwise :class:`ReportDirectoryError` is raised and
    nothing is changed. Files of an earlier report that this one does not rewrite are removed.
    """
    data = _readable(leaderboard)
    out_dir = Path(out_dir)
    target = ReportDirectory(out_dir)
    json_path = target.claim(out_dir / JSON_NAME)
    if isinstance(leaderboard, dict):
        json_path.write_text(json.dumps(data, indent=1) + "\n")
    elif Path(leaderboard).resolve() != json_path.resolve():
        shutil.copyfile(leaderboard, json_path)

    sections = _sections(data["records"])
    for section in sections:
        for kind, (draw, caption) in GROUP_FIGURES.items():
            saved = _save(draw(section.records), target, f"{section.anchor}-{kind}", kind, caption)
            if saved is not None:
                section.figures.append(saved)
        for record in section.records:
            method = slug(str(record.get("method", "?")))
            for kind, (draw, caption) in RECORD_FIGURES.items():
                saved = _save(
                    draw(record, section.records),
                    target,
                    f"{section.anchor}-{method}-{kind}",
                    kind,
                    f"{record.get('method')}: {caption}",
                )
                if saved is not None:
                    section.figures.append(saved)

    index = target.claim(out_dir / "index.html")
    index.write_text(render_index(data, sections, JSON_NAME), encoding="utf-8")
    target.finish()
    return index
