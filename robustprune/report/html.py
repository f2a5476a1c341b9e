"""The report's index.html: sortable leaderboard tables, figures, environment and timings.

The page is self-contained (inline CSS and a small vanilla-JS table sorter, figures as files
next to it), so it opens from disk without network access.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from robustprune.distributions import NOMINAL, distribution_label
from robustprune.leaderboard.per_seed import AT_LEAST, percent, seed_potentials
from robustprune.leaderboard.tables import legend_lines, seed_headers, seed_rows, summary_cell
from robustprune.report.style import finite, interval_note, slug

Record = dict[str, Any]


@dataclass(frozen=True)
class ReportFigure:
    """One rendered figure: its kind (e.g. "accuracy"), a caption and its path relative to index.html."""

    kind: str
    caption: str
    path: str
    svg: str | None = None
    """The same figure as SVG (relative to index.html), or None."""


@dataclass
class Section:
    """The part of the page for one (suite, dataset, arch): its records and figures."""

    suite: str
    dataset: str
    arch: str
    records: list[Record]
    figures: list[ReportFigure] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The section's HTML id."""
        return "-".join(slug(part) for part in (self.suite, self.dataset, self.arch))

    @property
    def title(self) -> str:
        """The section heading."""
        return f"{self.dataset} / {self.arch} (suite {self.suite})"


# (summary key, header, kind): "ratio" shows a percentage, "number" three decimals, "seconds" one.
SUMMARY_COLUMNS: list[tuple[str, str, str]] = [
    ("nominal_pp", "nominal PP %", "ratio"),
    ("shifted_pp_mean", "shifted PP mean %", "ratio"),
    ("shifted_pp_min", "shifted PP min %", "ratio"),
    ("gap", "gap %", "ratio"),
    ("excess_error_slope", "excess error slope", "number"),
    ("flop_reduction_at_pp", "FLOP reduction at PP %", "ratio"),
    ("similarity", "agreement at PP %", "ratio"),
]
OPTIONAL_COLUMNS: list[tuple[str, str, str]] = [("speedup_at_pp", "speedup at PP ×", "number")]
"""Shown when some record of the section has the metric."""
TIMING_COLUMNS = ["parent_s", "curve_s", "evaluation_s"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.4rem; text-align: right; white-space: nowrap; }
th { white-space: normal; max-width: 6.5em; vertical-align: bottom; }
td .ci { display: block; font-size: 0.8em; color: #555; }
td.wrap { white-space: normal; max-width: 12em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
.scroll { overflow-x: auto; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f1f3f5; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th:hover { background: #e2e6ea; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 0.7em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 0.7em; }
td.missing { color: #999; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
.note { color: #555; font-size: 0.9rem; }
ul.legend { color: #555; font-size: 0.85rem; max-width: 80em; }
"""

_SORTER_JS = """
(function () {
  "use strict";
  function sortKey(cell) {
    if (!cell) { return null; }
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (raw === "") { return null; }
    var number = Number(raw);
    return Number.isNaN(number) ? raw.toLowerCase() : number;
  }
  function compare(a, b, direction) {
    if (a === null || b === null) { return (a === null) - (b === null); }  /* empty cells last */
    if (typeof a === "number" && typeof b === "number") { return direction * (a - b); }
    if (typeof a === "number") { return -direction; }
    if (typeof b === "number") { return direction; }
    return direction * a.localeCompare(b);
  }
  function sortTable(table, header, column) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      return compare(sortKey(r1.cells[column]), sortKey(r2.cells[column]), ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (header, column) {
      header.tabIndex = 0;
      header.title = "click to sort";
      header.addEventListener("click", function () { sortTable(table, header, column); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortTable(table, header, column); }
      });
    });
  });
})();
"""


def _cell(stats: Any, kind: str) -> str:
    """A table cell for a {"mean", "std", "ci"} entry (or a bare number): ``mean [low, high]``
    with the 95 % interval, ``mean ± std`` without one; empty and grey when missing."""
    mean = stats.get("mean") if isinstance(stats, dict) else stats
    std = stats.get("std") if isinstance(stats, dict) else None
    ci = stats.get("ci") if isinstance(stats, dict) else None
    if not finite(mean):
        return '<td class="missing" data-sort="">–</td>'
    scale, digits = {"ratio": (100.0, 1), "seconds": (1.0, 1)}.get(kind, (1.0, 3))
    text = f"{mean * scale:.{digits}f}"
    if isinstance(ci, list) and len(ci) == 2 and all(finite(v) for v in ci):
        text += f" [{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]"
    elif finite(std):
        text += f" ± {std * scale:.{digits}f}"
    return f'<td data-sort="{mean!r}">{escape(text)}</td>'


def _split_cell(text: str, mean: Any) -> str:
    """A cell whose text is ``"mean [low, high] …"``: the mean on top, the rest (interval,
    noise, kind) below in smaller type, so the columns stay narrow enough to fit the page."""
    head, _, rest = text.partition(" ")
    if not finite(mean) or text == "—":
        return f'<td class="missing" data-sort="">{escape(text)}</td>'
    below = f' <span class="ci">{escape(rest)}</span>' if rest else ""
    return f'<td data-sort="{mean!r}">{escape(head)}{below}</td>'


def _text_cell(value: Any) -> str:
    return f"<td>{escape(str(value))}</td>"


def _table(
    css_class: str, caption: str, headers: Sequence[str], rows: Sequence[str], attributes: str = ""
) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    return (
        f'<div class="scroll"><table class="sortable {css_class}"{attributes}>'
        f"<caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _section_attributes(section: Section) -> str:
    return (
        f' data-suite="{escape(section.suite)}" data-dataset="{escape(section.dataset)}"'
        f' data-arch="{escape(section.arch)}"'
    )


def summary_table(section: Section) -> str:
    """One row per method: the record summary (nominal, shifted and gap side by side)."""
    columns = SUMMARY_COLUMNS + [
        column for column in OPTIONAL_COLUMNS
        if any(column[0] in (r.get("summary") or {}) for r in section.records)
    ]  # fmt: skip
    rows = []
    for record in section.records:
        summary = record.get("summary") or {}
        cells = [
            _text_cell(record.get("method", "?")),
            _text_cell("yes" if record.get("structured") else "no"),
            _text_cell("yes" if record.get("data_informed") else "no"),
        ]
        cells += [
            _split_cell(summary_cell(record, key), (summary.get(key) or {}).get("mean"))
            if key in summary or key == "speedup_at_pp"
            else _cell(None, kind)
            for key, _, kind in columns
        ]
        flagged = record.get("degenerate") or {}
        cells.append(
            f'<td class="wrap" title="{escape("; ".join(f"{k}: {v}" for k, v in flagged.items()))}">'
            f"{escape(', '.join(distribution_label(k) for k in flagged) or '—')}</td>"
        )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    headers = ["method", "structured", "data-informed"] + [h for _, h, _ in columns]
    headers.append("excluded shifts")
    return _table(
        "leaderboard",
        f"Leaderboard (mean [{interval_note(section.records)}]; PP = prune potential; ≥ / ≤ / ~: "
        "the mean is a bound, some seed's PP is at a grid end; excluded shifts: the parent is "
        "not clearly above chance there, so they are left out of shifted PP mean/min and the gap)",
        headers,
        rows,
        _section_attributes(section),
    )


def potential_table(section: Section) -> str:
    """One row per method: prune potential on every distribution, nominal first."""
    distributions: list[str] = []
    for record in section.records:
        for distribution in record.get("distributions") or []:
            if distribution not in distributions:
                distributions.append(distribution)
    distributions.sort(key=lambda d: d != NOMINAL)
    rows = []
    for record in section.records:
        potential = record.get("prune_potential") or {}
        cells = [_text_cell(record.get("method", "?"))]
        for distribution in distributions:
            cell = _cell(potential.get(distribution), "ratio")
            seeds = seed_potentials(record, distribution)
            if seeds and all(item.censored == "bottom" for item in seeds):  # PP 0 everywhere
                below = f"&lt;{percent(max(item.bound or 0.0 for item in seeds))}"
                cell = re.sub(r">[-0-9.]+", f">{below}", cell, count=1)
            elif any(item.censored for item in seeds):
                cell = cell.replace(">", f">{AT_LEAST}", 1)  # a seed at a grid end: a bound
            cells.append(cell)
        rows.append(f"<tr>{''.join(cells)}</tr>")
    flagged = {d for r in section.records for d in r.get("degenerate") or {}}
    headers = ["method"] + [
        distribution_label(d) + " %" + (" †" if d in flagged else "") for d in distributions
    ]
    return _table(
        "potential",
        f"Prune potential per distribution (%, mean [{interval_note(section.records)}]"
        + ("; † parent at chance, excluded from the summary)" if flagged else ")"),
        headers,
        rows,
        _section_attributes(section),
    )


def seeds_table(section: Section) -> str:
    """One row per method and seed: the values behind the summary's means, grid ends marked."""
    has_speedup = any("speedup_at_pp" in (r.get("summary") or {}) for r in section.records)
    body = [
        "<tr>" + "".join(_text_cell(value) for value in row) + "</tr>"
        for record in section.records  # in record order, like the other tables
        for row in seed_rows(record, has_speedup)
    ]
    headers = seed_headers(has_speedup)
    return _table(
        "seeds",
        "Per seed (%; ≥96.7: the grid's last point, <30.0: PP 0, below its first point; "
        "speedup — where the network was not pruned)",
        headers,
        body,
        _section_attributes(section),
    )


def timings_table(section: Section) -> str:
    """One row per method: seeds, wall-clock seconds per stage and artifact cache status."""
    keys = TIMING_COLUMNS + sorted(
        {k for r in section.records for k in (r.get("timings") or {}) if k not in TIMING_COLUMNS}
    )
    # Extra timing keys follow the standard ones; a record lacking one gets an empty cell.
    rows = []
    for record in section.records:
        timings = record.get("timings") or {}
        seconds = [timings.get(k) for k in keys]
        artifacts = record.get("artifacts") or {}
        cells = [
            _text_cell(record.get("method", "?")),
            _text_cell(", ".join(str(s) for s in record.get("seeds") or [])),
        ]
        cells += [_cell(v, "seconds") for v in seconds]
        cells.append(_cell(sum(v for v in seconds if finite(v)), "seconds"))
        cells.append(
            _text_cell(
                "; ".join(
                    f"{k}: {', '.join(map(str, v))}" if isinstance(v, list) else f"{k}: {v}"
                    for k, v in artifacts.items()
                )
            )
        )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    headers = ["method", "seeds"] + keys + ["total_s", "artifacts"]
    return _table(
        "timings",
        "Timings (seconds) and artifact cache status",
        headers,
        rows,
        _section_attributes(section),
    )


def _environment(leaderboard: dict[str, Any]) -> str:
    environment = leaderboard.get("environment") or {}
    rows = "".join(
        f'<tr><th scope="row">{escape(str(k))}</th><td>{escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>'
        for k, v in environment.items()
    )
    return (
        f'<table class="environment"><tbody>{rows}</tbody></table>'
        if rows
        else "<p>(none recorded)</p>"
    )


def _figures(section: Section) -> str:
    if not section.figures:
        return '<p class="note">No figures: the records carry no curve data.</p>'
    items = "".join(
        f'<figure data-kind="{escape(f.kind)}"><img src="{escape(f.path)}" alt="{escape(f.caption)}">'
        f"<figcaption>{escape(f.caption)}"
        + (f' <a href="{escape(f.svg)}">SVG</a>' if f.svg else "")
        + "</figcaption></figure>"
        for f in section.figures
    )
    return f'<div class="figures">{items}</div>'


def render_index(leaderboard: dict[str, Any], sections: Sequence[Section], json_name: str) -> str:
    """The full index.html text for `leaderboard`, laid out as `sections`."""
    created = escape(str(leaderboard.get("created", "unknown")))
    toc = "".join(
        f'<li><a href="#{s.anchor}">{escape(s.title)}</a> ({len(s.records)} methods)</li>'
        for s in sections
    )
    legend = "".join(
        f"<li>{escape(line)}</li>"
        for line in legend_lines({"records": leaderboard.get("records") or []})
    )
    body = []
    for section in sections:
        body.append(
            f'<section id="{section.anchor}"{_section_attributes(section)}>'
            f"<h2>{escape(section.title)}</h2>"
            f"{summary_table(section)}{potential_table(section)}{seeds_table(section)}"
            f"<h3>Figures</h3>{_figures(section)}"
            f"<h3>Timings</h3>{timings_table(section)}</section>"
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>robustprune report</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>robustprune report</h1>
<p class="note">Leaderboard created {created}, schema {escape(str(leaderboard.get("schema")))},
{len(leaderboard.get("records") or [])} records. Data: <a href="{escape(json_name)}">{escape(json_name)}</a>.
Click a table header to sort by that column (again to reverse).</p>
</header>
<ul class="legend">{legend}</ul>
<nav><ul>{toc}</ul></nav>
<main>{"".join(body) if body else "<p>The leaderboard has no records.</p>"}</main>
<footer>
<h2>Environment</h2>
{_environment(leaderboard)}
</footer>
<script>{_SORTER_JS}</script>
</body>
</html>
"""
