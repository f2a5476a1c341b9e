"""Leaderboards as tables: text for the terminal, Markdown and CSV.

Every cell shows the mean over seeds and, when the record has one, the 95 % bootstrap interval
(test examples and seeds resampled together, see docs/metrics.md): ``58.7 [44.4, 75.6]``.
Records of schema 1 carry no interval and show ``mean ± std`` over seeds instead.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from tabulate import tabulate

from robustprune.leaderboard.schema import (
    COLUMN_TITLES,
    KEY_FIELDS,
    OPTIONAL_METRICS,
    PERCENT_METRICS,
    SUMMARY_METRICS,
    record_key,
)

UNCERTAINTY_NOTE = (
    "Cells: mean over seeds [95 % interval: percentile bootstrap resampling test examples and "
    "seeds together]; `± x` where a record has no interval (schema 1) is the std over seeds."
)


def format_stat(stat: dict[str, Any] | None, metric: str) -> str:
    """``"82.5 [78.0, 85.0]"`` (percent) or ``"0.023 [0.011, 0.031]"``; ``"82.5 ± 3.5"`` without
    an interval; ``"—"`` for null."""
    if stat is None:
        return "—"
    scale, digits = (100.0, 1) if metric in PERCENT_METRICS else (1.0, 3)
    mean = f"{scale * stat['mean']:.{digits}f}"
    if stat.get("ci"):
        low, high = stat["ci"]
        return f"{mean} [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"
    return f"{mean} ± {scale * stat['std']:.{digits}f}"


def metric_header(metric: str) -> str:
    """The column title with its unit: ``"nominal PP %"``, ``"excess-err. slope"``."""
    return COLUMN_TITLES[metric] + (" %" if metric in PERCENT_METRICS else "")


def shown_metrics(records: list[dict[str, Any]]) -> list[str]:
    """The summary metrics to show: every standard one, and optional ones some record has."""
    optional = [m for m in OPTIONAL_METRICS if any(m in r["summary"] for r in records)]
    return [*SUMMARY_METRICS, *optional]


def short_distribution(name: str) -> str:
    """``corruption:fog:3`` -> ``fog:3``; ``noise:uniform:0.3`` -> ``uniform:0.3``."""
    return name.split(":", 1)[1] if name.count(":") >= 2 else name


def excluded_shifts(record: dict[str, Any]) -> str:
    """The record's degenerate shifts (left out of shifted PP mean/min and gap), or ``"—"``."""
    flagged = record.get("degenerate") or {}
    return ", ".join(short_distribution(name) for name in flagged) or "—"


def interval_kind(records: list[dict[str, Any]]) -> str:
    """What the cells of these records show, e.g. ``"mean [95% CI: bootstrap over test
    examples and seeds]"``; schema-1 records say ``"mean ± std over seeds"``."""
    kinds = set()
    for record in records:
        uncertainty = record.get("uncertainty")
        if uncertainty:
            over = " and ".join(uncertainty.get("resampled") or ["test examples"])
            confidence = round(100 * float(uncertainty.get("confidence", 0.95)))
            kinds.add(f"mean [{confidence}% CI: bootstrap over {over}]")
        else:
            kinds.add("mean ± std over seeds")
    return "; ".join(sorted(kinds)) or "mean ± std over seeds"


def group_tables(leaderboard: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """One ``(title, headers, rows)`` per (suite, dataset, arch); rows are methods, sorted."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in leaderboard["records"]:
        groups.setdefault(record_key(record)[:3], []).append(record)
    tables = []
    for (suite, dataset, arch), records in sorted(groups.items()):
        metrics = shown_metrics(records)
        headers = ["method", *(metric_header(metric) for metric in metrics), "excluded shifts"]
        rows = [
            [
                record["method"],
                *(format_stat(record["summary"].get(m), m) for m in metrics),
                excluded_shifts(record),
            ]
            for record in sorted(records, key=lambda record: record["method"])
        ]
        title = f"suite {suite} · dataset {dataset} · arch {arch} · {interval_kind(records)}"
        tables.append((title, headers, rows))
    return tables


def degenerate_notes(leaderboard: dict[str, Any]) -> list[str]:
    """One line per flagged shift and architecture: why it was left out of the summary."""
    notes: dict[tuple[str, str, str, str], str] = {}
    for record in leaderboard["records"]:
        for name, reason in (record.get("degenerate") or {}).items():
            notes.setdefault((*record_key(record)[:3], name), reason)
    return [
        f"{suite}/{arch}: {short_distribution(name)} excluded, {reason}"
        for (suite, _dataset, arch, name), reason in sorted(notes.items())
    ]


def render_text(leaderboard: dict[str, Any]) -> str:
    """Plain-text tables for a terminal, one per (suite, dataset, arch), then the notes."""
    parts = [
        f"{title}\n{tabulate(rows, headers, tablefmt='simple', disable_numparse=True)}"
        for title, headers, rows in group_tables(leaderboard)
    ]
    if not parts:
        return "(no records)\n"
    notes = [UNCERTAINTY_NOTE, *degenerate_notes(leaderboard)]
    return "\n\n".join(parts) + "\n" + "\n".join(notes) + "\n"


def render_markdown(leaderboard: dict[str, Any]) -> str:
    """A Markdown document: a heading and a pipe table per (suite, dataset, arch)."""
    lines = ["# robustprune leaderboard", ""]
    environment = leaderboard.get("environment", {})
    described = ", ".join(f"{name} {value}" for name, value in environment.items() if value)
    lines += [f"Created {leaderboard['created']}" + (f"; {described}." if described else "."), ""]
    lines += [
        "PP = prune potential (largest prune ratio within δ of the parent's error); "
        "gap = nominal PP − mean shifted PP; lower is better for gap and slope. "
        + UNCERTAINTY_NOTE
        + " Excluded shifts: the parent is not clearly above chance there (its accuracy "
        "interval reaches chance + δ), so they are left out of shifted PP mean/min and the gap.",
        "",
    ]
    for title, headers, rows in group_tables(leaderboard):
        table = tabulate(rows, headers, tablefmt="github", disable_numparse=True)
        lines += [f"## {title}", "", table, ""]
    notes = degenerate_notes(leaderboard)
    if notes:
        lines += ["## Excluded shifts", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)


def render_csv(leaderboard: dict[str, Any]) -> str:
    """One row per record: the key, then per metric ``_mean``, ``_std``, ``_ci_low``,
    ``_ci_high`` as raw fractions (empty when absent), then ``excluded_shifts`` (``;``-separated)."""
    records = leaderboard["records"]
    metrics = shown_metrics(records)
    parts = ("mean", "std", "ci_low", "ci_high")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [*KEY_FIELDS, *(f"{m}_{part}" for m in metrics for part in parts), "excluded_shifts"]
    )
    for record in records:
        values = []
        for metric in metrics:
            stat = record["summary"].get(metric)
            if stat is None:
                values += ["", "", "", ""]
                continue
            ci = stat.get("ci") or ["", ""]
            values += [
                repr(stat["mean"]),
                repr(stat["std"]),
                *(repr(v) if v != "" else "" for v in ci),
            ]
        writer.writerow([*record_key(record), *values, ";".join(record.get("degenerate") or {})])
    return buffer.getvalue()
