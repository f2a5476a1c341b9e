"""Leaderboards as tables: text for the terminal, Markdown and CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from tabulate import tabulate

from robustprune.leaderboard.schema import (
    COLUMN_TITLES,
    KEY_FIELDS,
    PERCENT_METRICS,
    SUMMARY_METRICS,
    record_key,
)


def format_stat(stat: dict[str, float] | None, metric: str) -> str:
    """``"82.5 ± 3.5"`` (percent) for ratios, ``"0.023 ± 0.004"`` for the slope, ``"—"`` for null."""
    if stat is None:
        return "—"
    if metric in PERCENT_METRICS:
        return f"{100 * stat['mean']:.1f} ± {100 * stat['std']:.1f}"
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def _header(metric: str) -> str:
    return COLUMN_TITLES[metric] + (" %" if metric in PERCENT_METRICS else "")


def group_tables(leaderboard: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """One ``(title, headers, rows)`` per (suite, dataset, arch); rows are methods, sorted."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in leaderboard["records"]:
        groups.setdefault(record_key(record)[:3], []).append(record)
    headers = ["method", *(_header(metric) for metric in SUMMARY_METRICS)]
    tables = []
    for (suite, dataset, arch), records in sorted(groups.items()):
        rows = [
            [record["method"], *(format_stat(record["summary"][m], m) for m in SUMMARY_METRICS)]
            for record in sorted(records, key=lambda record: record["method"])
        ]
        tables.append((f"suite {suite} · dataset {dataset} · arch {arch}", headers, rows))
    return tables


def render_text(leaderboard: dict[str, Any]) -> str:
    """Plain-text tables for a terminal, one per (suite, dataset, arch)."""
    parts = [
        f"{title}\n{tabulate(rows, headers, tablefmt='simple', disable_numparse=True)}"
        for title, headers, rows in group_tables(leaderboard)
    ]
    return "\n\n".join(parts) + "\n" if parts else "(no records)\n"


def render_markdown(leaderboard: dict[str, Any]) -> str:
    """A Markdown document: a heading and a pipe table per (suite, dataset, arch)."""
    lines = ["# robustprune leaderboard", ""]
    environment = leaderboard.get("environment", {})
    described = ", ".join(f"{name} {value}" for name, value in environment.items() if value)
    lines += [f"Created {leaderboard['created']}" + (f"; {described}." if described else "."), ""]
    lines += [
        "PP = prune potential (largest prune ratio within δ of the parent's error), mean ± std "
        "over seeds; gap = nominal PP − mean shifted PP; lower is better for gap and slope.",
        "",
    ]
    for title, headers, rows in group_tables(leaderboard):
        table = tabulate(rows, headers, tablefmt="github", disable_numparse=True)
        lines += [f"## {title}", "", table, ""]
    return "\n".join(lines)


def render_csv(leaderboard: dict[str, Any]) -> str:
    """One row per record: the key, then ``<metric>_mean`` and ``<metric>_std`` as raw fractions."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [*KEY_FIELDS, *(f"{m}_{part}" for m in SUMMARY_METRICS for part in ("mean", "std"))]
    )
    for record in leaderboard["records"]:
        values = []
        for metric in SUMMARY_METRICS:
            stat = record["summary"][metric]
            values += ["", ""] if stat is None else [repr(stat["mean"]), repr(stat["std"])]
        writer.writerow([*record_key(record), *values])
    return buffer.getvalue()
