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

from robustprune.distributions import NOMINAL, short_distribution
from robustprune.leaderboard.per_seed import (
    below_grid,
    census,
    format_seed_value,
    format_speedup,
    mean_bound,
    percent,
    seed_summary,
    shifts_at_grid_ends,
    speedup,
)
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


def _deltas(records: list[dict[str, Any]]) -> str:
    """``"δ = 3.0 points"``: the records' delta (top-1 accuracy points) for a table title."""
    deltas = sorted({float(r["delta"]) for r in records if r.get("delta") is not None})
    return "δ = " + " / ".join(f"{100 * d:g}" for d in deltas) + " points" if deltas else ""


def summary_cell(record: dict[str, Any], metric: str) -> str:
    """A summary cell: :func:`format_stat`, marked where the mean is a bound (grid ends), the
    FLOP reduction labelled theoretical or real, the speedup without unpruned seeds."""
    stat = (record.get("summary") or {}).get(metric)
    if metric == "speedup_at_pp" and isinstance(record.get("latency"), dict):
        return format_speedup(speedup(record))
    text = format_stat(stat, metric)
    if stat is None:
        return text
    if metric == "flop_reduction_at_pp":
        return f"{text} {'real' if record.get('structured') else 'theor.'}"
    bound = below_grid(record, metric)
    if bound is not None:  # every seed at 0: below the grid's first point, not a measured 0
        return (
            f"<{percent(bound)}" + text[text.index(" ") :] if " " in text else f"<{percent(bound)}"
        )
    return (mean_bound(record, metric) or "") + text


def group_tables(leaderboard: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """One ``(title, headers, rows)`` per (suite, dataset, arch); rows are methods, sorted."""
    tables = []
    for (suite, dataset, arch), records in _groups(leaderboard):
        metrics = shown_metrics(records)
        headers = ["method", *(metric_header(metric) for metric in metrics), "excluded shifts"]
        rows = [
            [
                record["method"],
                *(summary_cell(record, m) for m in metrics),
                excluded_shifts(record),
            ]
            for record in records
        ]
        title = (
            f"suite {suite} · dataset {dataset} · arch {arch} · {_deltas(records)} · "
            f"{interval_kind(records)}"
        )
        tables.append((title, headers, rows))
    return tables


def _groups(
    leaderboard: dict[str, Any],
) -> list[tuple[tuple[str, str, str], list[dict[str, Any]]]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in leaderboard["records"]:
        groups.setdefault(record_key(record)[:3], []).append(record)
    return [
        (key, sorted(records, key=lambda record: record["method"]))
        for key, records in sorted(groups.items())
    ]


SEED_METRICS = ("nominal_pp", "shifted_pp_mean", "shifted_pp_min", "gap")


def seed_headers(has_speedup: bool) -> list[str]:
    """Columns of the per-seed tables (the speedup only where some record measured it)."""
    return [
        "method", "seed", *(metric_header(m) for m in SEED_METRICS),
        "shift PPs at grid ends", "FLOP red. at PP %",
    ] + (["speedup at PP ×"] if has_speedup else [])  # fmt: skip


def seed_rows(record: dict[str, Any], has_speedup: bool) -> list[list[str]]:
    """One row per seed of ``record``: the values behind its summary's means.

    Grid ends show as ``≥96.7`` / ``<30.0`` (per-shift counts in "shift PPs at grid ends"); a
    gap is marked ``≥``/``≤``/``~`` where its nominal or shifted PP is censored; a speedup is
    ``—`` for a seed whose network was not pruned.
    """
    per_seed = seed_summary(record)
    flops = ((record.get("flop_reduction_at_pp") or {}).get(NOMINAL) or {}).get("values")
    timed = speedup(record)
    rows = []
    for index, seed in enumerate(record.get("seeds") or []):
        row = [record["method"], str(seed)]
        for metric in SEED_METRICS:
            values = per_seed.get(metric) or []
            item = values[index] if index < len(values) else None
            if metric == "gap" and item is not None:
                row.append((item.censored or "") + percent(item.value))
            else:
                row.append(format_seed_value(item))
        row.append(shifts_at_grid_ends(record, index))
        row.append(percent(flops[index]) if flops and index < len(flops) else "—")
        if has_speedup:
            value = timed.seeds[index] if timed and index < len(timed.seeds) else None
            row.append("—" if value is None else f"{value:.2f}")
        rows.append(row)
    return rows


def seed_tables(leaderboard: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per (suite, dataset, arch): one row per method and seed (:func:`seed_rows`)."""
    tables = []
    for (suite, dataset, arch), records in _groups(leaderboard):
        has_speedup = any("speedup_at_pp" in (r.get("summary") or {}) for r in records)
        rows = [row for record in records for row in seed_rows(record, has_speedup)]
        title = f"suite {suite} · dataset {dataset} · arch {arch} · per seed"
        tables.append((title, seed_headers(has_speedup), rows))
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


def legend_lines(leaderboard: dict[str, Any]) -> list[str]:
    """What the tables' abbreviations and marks mean, one line each (under every table)."""
    records = leaderboard["records"]
    lines = [
        "PP = prune potential: the largest prune ratio on the grid (% of weights removed) whose "
        "top-1 error stays within δ of the parent's (δ in accuracy points, in each title). "
        "gap = nominal PP − mean shifted PP (points). Lower is better for gap and slope.",
        "Grid ends: ≥96.7 = the grid's last point still passed (the PP may be higher); "
        "<30.0 = PP 0, the grid's first point already lost more than δ. A mean over such seeds "
        "is a bound: ≥ the true value is at least the one shown, ≤ at most, ~ either way "
        "(nominal and shifted PP both censored).",
        "FLOP red.: real = multiply-adds the compacted network no longer needs (structured "
        "methods); theor. = those of the zeroed weights, which dense layers still compute "
        "(unstructured methods).",
    ]
    counts = census(records)
    if counts["nominal top"][1]:
        lines.append(
            "Censored per-seed PPs here: nominal "
            f"{counts['nominal top'][0]} of {counts['nominal top'][1]} at the grid's last point, "
            f"{counts['nominal bottom'][0]} at 0; shifted {counts['shifted top'][0]} of "
            f"{counts['shifted top'][1]} at the last point, {counts['shifted bottom'][0]} at 0."
        )
    if any("speedup_at_pp" in (r.get("summary") or {}) for r in records):
        lines.append(
            "speedup at PP ×: parent / compacted network latency at the largest batch, measured "
            "on the machine that ran the case; mean over the seeds that pruned (± timing noise: half the spread "
            "of the parent's own latency between seeds, scaled to the speedup); — where the "
            "network was not pruned (PP 0)."
        )
    resolutions = sorted(
        {d.rsplit("@", 1)[1] for r in records for d in r.get("distributions") or [] if "@" in d}
    )
    for size in resolutions:
        lines.append(
            f"@{size} in a shift's name: the corruption is applied at {size}×{size} pixels "
            "(upsampled, corrupted, block-averaged back to the data's resolution)."
        )
    return [*lines, UNCERTAINTY_NOTE]


def _text_table(title: str, headers: list[str], rows: list[list[str]], fmt: str) -> str:
    return f"{title}\n{tabulate(rows, headers, tablefmt=fmt, disable_numparse=True)}"


def render_text(leaderboard: dict[str, Any]) -> str:
    """Plain-text tables for a terminal, one per (suite, dataset, arch) with its per-seed detail,
    then the legend and the notes."""
    parts = [
        _text_table(*summary, "simple") + "\n\n" + _text_table(*seeds, "simple")
        for summary, seeds in zip(group_tables(leaderboard), seed_tables(leaderboard), strict=True)
    ]
    if not parts:
        return "(no records)\n"
    notes = [*legend_lines(leaderboard), *degenerate_notes(leaderboard)]
    return "\n\n".join(parts) + "\n" + "\n".join(notes) + "\n"


def render_markdown(leaderboard: dict[str, Any]) -> str:
    """A Markdown document: a heading, per (suite, dataset, arch) a pipe table and its per-seed
    detail, then the legend."""
    lines = ["# robustprune leaderboard", ""]
    environment = leaderboard.get("environment", {})
    described = ", ".join(f"{name} {value}" for name, value in environment.items() if value)
    lines += [f"Created {leaderboard['created']}" + (f"; {described}." if described else "."), ""]
    for (title, headers, rows), (_, seed_headers, seed_rows) in zip(
        group_tables(leaderboard), seed_tables(leaderboard), strict=True
    ):
        table = tabulate(rows, headers, tablefmt="github", disable_numparse=True)
        detail = tabulate(seed_rows, seed_headers, tablefmt="github", disable_numparse=True)
        lines += [f"## {title}", "", table, "", "Per seed:", "", detail, ""]
    if leaderboard["records"]:
        lines += [
            "## Legend",
            "",
            *(f"- {line}" for line in legend_lines(leaderboard)),
            "- Excluded shifts: the parent is not clearly above chance there (its accuracy "
            "interval reaches chance + δ), so they are left out of shifted PP mean/min and the gap.",
            "",
        ]
    notes = degenerate_notes(leaderboard)
    if notes:
        lines += ["## Excluded shifts", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)


def render_csv(leaderboard: dict[str, Any]) -> str:
    """One row per record: the key, then per metric ``_mean``, ``_std``, ``_ci_low``,
    ``_ci_high`` as raw fractions (empty when absent), then ``excluded_shifts`` (``;``-separated),
    then for nominal PP, shifted PP mean/min and gap ``_seeds`` (per-seed fractions,
    ``;``-separated) and ``_bound`` (``≥``/``≤``/``~`` where the mean is a bound, ``<`` where
    every seed is below the grid's first point, else empty), and ``flop_reduction_kind``
    (``real`` for structured methods, ``theoretical`` for unstructured ones)."""
    records = leaderboard["records"]
    metrics = shown_metrics(records)
    parts = ("mean", "std", "ci_low", "ci_high")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            *KEY_FIELDS,
            *(f"{m}_{part}" for m in metrics for part in parts),
            "excluded_shifts",
            *(f"{m}_{part}" for m in SEED_METRICS for part in ("seeds", "bound")),
            "flop_reduction_kind",
        ]
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
        per_seed = seed_summary(record)
        for metric in SEED_METRICS:
            values.append(";".join(repr(item.value) for item in per_seed.get(metric, [])))
            below = below_grid(record, metric) is not None
            values.append("<" if below else mean_bound(record, metric) or "")
        values.append("real" if record.get("structured") else "theoretical")
        writer.writerow([*record_key(record), *values[: 4 * len(metrics)],
                         ";".join(record.get("degenerate") or {}), *values[4 * len(metrics) :]])  # fmt: skip
    return buffer.getvalue()
