"""The report's figures, one function per kind, drawn with matplotlib's Agg backend.

This module draws the figures of one network's records (accuracy, potential, gap, excess
error) and re-exports the per-record ones from ``robustprune.report.record_figures``.

Every function takes leaderboard records (plain dicts, see docs/records.md) and returns a
`matplotlib.figure.Figure`, or None when the records lack the data the figure needs. Figures are
built without pyplot on an Agg canvas, at most a page wide (7 in), in a colour-blind-safe palette
with a marker per method; `save_figure` writes each as PNG and SVG. Ratios, accuracies and prune
potentials are drawn in % (as the tables show them). Intervals are the records' bootstrap
intervals where they have them, else the min–max over seeds, always clipped to [0, 100] % for
prune potentials. Per-seed prune potentials are small markers next to each mean: ▲ for a seed
at the grid's last point (its PP is at least that), ▼ for PP 0 (below the grid's first point).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from robustprune.distributions import NOMINAL, distribution_label, tick_label
from robustprune.leaderboard.per_seed import seed_potentials, seed_summary
from robustprune.report.record_figures import (
    cross_confidence,
    noise_similarity,
    similarity_limits,
)
from robustprune.report.style import (
    PAGE_WIDTH,
    finite,
    group_title,
    interval_note,
    legend_below,
    mean,
    method_styles,
    new_figure,
    save_figure,
    styled,
)

Record = dict[str, Any]
__all__ = [
    "NOMINAL", "accuracy_curves", "cross_confidence", "distribution_label", "excess_error",
    "method_styles",
    "noise_similarity", "potential_gap", "prune_potential_bars", "save_figure", "save_png",
    "similarity_limits",
]  # fmt: skip

_finite, _mean, _group_title, _legend = finite, mean, group_title, legend_below


def _distributions(records: Sequence[Record]) -> list[str]:
    """Distributions in record order, nominal first."""
    seen: list[str] = []
    for record in records:
        for distribution in record.get("distributions") or []:
            if distribution not in seen:
                seen.append(distribution)
    if NOMINAL in seen:
        seen.remove(NOMINAL)
        seen.insert(0, NOMINAL)
    return seen


def _degenerate(records: Sequence[Record]) -> set[str]:
    """Distributions some record flags as degenerate (parent not clearly above chance)."""
    return {name for record in records for name in record.get("degenerate") or {}}


def _grid(count: int, max_columns: int = 3) -> tuple[int, int]:
    """(rows, columns) for ``count`` panels: 2 columns for 2 or 4 panels, else up to 3."""
    columns = 2 if count in (2, 4) else min(max_columns, max(count, 1))
    return math.ceil(count / columns), columns


def _change_curve(record: Record, distribution: str) -> tuple[list[float], ...]:
    """Seed-mean accuracy change vs the parent on one distribution, starting at the parent.

    Returns (prune ratio, mean change, band low, band high), fractions, with the parent at
    ratio 0 (change 0). The band is the record's bootstrap interval (``accuracy_change_ci``)
    when it matches the curve, else the min–max over seeds. Points are matched across seeds by
    target ratio; a seed missing a point or the distribution is left out of that point.
    """
    parents = ((record.get("parent") or {}).get(distribution) or {}).get("accuracy") or []
    by_target: dict[float, tuple[list[float], list[float], int]] = {}
    for seed_index, seed_curve in enumerate(record.get("curve") or []):
        if seed_index >= len(parents) or not finite(parents[seed_index]):
            continue
        for position, point in enumerate(seed_curve or []):
            accuracy = (point.get("accuracy") or {}).get(distribution)
            ratio = point.get("prune_ratio")
            if not (finite(accuracy) and finite(ratio)):
                continue
            target = round(float(point.get("target_ratio", ratio)), 6)
            ratios, changes, _ = by_target.setdefault(target, ([], [], position))
            ratios.append(float(ratio))
            changes.append(float(accuracy) - float(parents[seed_index]))
    if not by_target:
        return [], [], [], []
    bootstrap = (record.get("accuracy_change_ci") or {}).get(distribution)
    xs, means, lows, highs = [0.0], [0.0], [0.0], [0.0]
    for target in sorted(by_target):
        ratios, changes, position = by_target[target]
        xs.append(mean(ratios))
        means.append(mean(changes))
        if bootstrap and len(bootstrap) == len(by_target) and len(bootstrap[position]) == 2:
            lows.append(float(bootstrap[position][0]))
            highs.append(float(bootstrap[position][1]))
        else:
            lows.append(min(changes))
            highs.append(max(changes))
    return xs, means, lows, highs


def _interval(entry: dict[str, Any]) -> tuple[float, float, float] | None:
    """(mean, low, high) of a fraction statistic in %, the interval clipped to [0, 100]; None
    without a mean."""
    if not finite(entry.get("mean")):
        return None
    value = float(entry["mean"])
    ci = entry.get("ci")
    if ci and len(ci) == 2 and all(finite(v) for v in ci):
        low, high = float(ci[0]), float(ci[1])
    elif entry.get("values"):
        low, high = min(entry["values"]), max(entry["values"])
    else:
        low = high = value
    low, high = min(max(low, 0.0), value), max(min(high, 1.0), value)
    return 100 * value, 100 * low, 100 * high


SEED_MARKERS = {None: "o", "top": "^", "bottom": "v"}
"""Per-seed marker by censoring: measured, at the grid's last point (▲), PP 0 (▼)."""


def _seed_markers(axes: Axes, xs: list[float], items: list[Any], color: str, *,
                  horizontal: bool = False) -> None:  # fmt: skip
    """Per-seed values (SeedValue, fractions) as small hollow markers at ``xs``, in %."""
    for x, item in zip(xs, items, strict=True):
        point = (100 * item.value, x) if horizontal else (x, 100 * item.value)
        marker = SEED_MARKERS.get(item.censored if item.censored in ("top", "bottom") else None)
        axes.plot(*point, marker=marker, markersize=3, markerfacecolor="white",
                  markeredgecolor=color, markeredgewidth=0.8, linestyle="none", zorder=6,
                  clip_on=False, label="_seed")  # fmt: skip


def _seed_legend(axes: Axes) -> None:
    for censored, label in ((None, "seed"), ("top", "seed, a lower bound (PP at a grid end)"),
                            ("bottom", "seed, PP 0 (below the grid)")):  # fmt: skip
        axes.plot([], [], marker=SEED_MARKERS[censored], markersize=3, markerfacecolor="white",
                  markeredgecolor="0.3", linestyle="none", label=label)  # fmt: skip


@styled
def accuracy_curves(records: Sequence[Record]) -> Figure | None:
    """Accuracy change vs the parent (points) against prune ratio, one panel per distribution.

    Each curve starts at the parent (ratio 0, change 0). The shaded band is where a pruned net
    still counts as "as good as the parent" (change >= -δ), the dashed line its edge; an open
    marker on that line shows each method's prune potential with its interval. The y axis is
    zoomed to the region around δ; curves that fall further leave the panel at the bottom.
    """
    distributions = _distributions(records)
    curves = {(r.get("method"), d): _change_curve(r, d) for r in records for d in distributions}
    distributions = [
        d for d in distributions if any(curves[(r.get("method"), d)][0] for r in records)
    ]
    if not distributions:
        return None
    styles = method_styles(records)
    degenerate = _degenerate(records)
    delta = next((float(r["delta"]) for r in records if finite(r.get("delta"))), 0.005)
    low_limit, high_limit = -100 * max(8 * delta, 0.03), 100 * max(2 * delta, 0.01)
    rows, columns = _grid(len(distributions))
    figure = new_figure(PAGE_WIDTH, 1.75 * rows + 0.55)
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for index, distribution in enumerate(distributions):
        axes = grid[index // columns][index % columns]
        axes.axhspan(-100 * delta, high_limit, color="0.88", linewidth=0, zorder=0)
        axes.axhline(0, color="0.3", linewidth=0.7, zorder=1, label="parent")
        axes.axhline(-100 * delta, color="0.3", linewidth=0.8, linestyle="--", zorder=1,
                     label=f"parent − δ (δ = {100 * delta:g} points)")  # fmt: skip
        for record in records:
            method = str(record.get("method"))
            xs, means, lows, highs = curves[(record.get("method"), distribution)]
            if not xs:
                continue
            style = styles[method]
            xs = [100 * x for x in xs]
            axes.fill_between(xs, [100 * v for v in lows], [100 * v for v in highs],
                              color=style.color, alpha=0.18, linewidth=0)  # fmt: skip
            axes.plot(xs, [100 * v for v in means], label=method, **style.line())
            potential = _interval((record.get("prune_potential") or {}).get(distribution) or {})
            if potential is not None:
                value, low, high = potential
                axes.errorbar(
                    [value], [-100 * delta], xerr=[[value - low], [high - value]],
                    marker=style.marker, markersize=6, markerfacecolor="white",
                    markeredgecolor=style.color, markeredgewidth=1.3, ecolor=style.color,
                    elinewidth=1.3, capsize=2.5, linestyle="none", zorder=5, clip_on=False,
                )  # fmt: skip
        title = distribution_label(distribution)
        if distribution in degenerate:
            axes.set_title(f"{title}\nexcluded: parent at chance", color="0.45")
            axes.set_facecolor("#f4f4f4")
        else:
            axes.set_title(title)
        axes.set_xlim(0, 100)
        axes.set_ylim(low_limit, high_limit)
        axes.set_xticks([0, 25, 50, 75, 100])
        axes.grid(alpha=0.25, linewidth=0.5)
        if index % columns == 0:
            axes.set_ylabel("Δ accuracy (points)")
        if index + columns >= len(distributions):
            axes.set_xlabel("prune ratio (%)")
            axes.tick_params(labelbottom=True)
    for index in range(len(distributions), rows * columns):
        grid[index // columns][index % columns].set_visible(False)
    grid[0][0].plot([], [], marker="o", markerfacecolor="white", markeredgecolor="0.2",
                    linestyle="none", label="prune potential (± interval)")  # fmt: skip
    _legend(figure, grid[0][0], columns=4)
    figure.suptitle(f"{group_title(records)}: accuracy change vs the parent "
                    f"(bands/bars: {interval_note(records)})", fontsize=8)  # fmt: skip
    return figure


@styled
def prune_potential_bars(records: Sequence[Record]) -> Figure | None:
    """Prune potential per distribution (nominal first) and method: markers with intervals.

    Intervals are the records' bootstrap intervals (else the seed min–max), clipped to [0, 1].
    Degenerate shifts (parent at chance) are greyed and marked †.
    """
    distributions = [
        d
        for d in _distributions(records)
        if any(finite(((r.get("prune_potential") or {}).get(d) or {}).get("mean")) for r in records)
    ]
    if not distributions:
        return None
    styles = method_styles(records)
    degenerate = _degenerate(records)
    figure = new_figure(PAGE_WIDTH, 2.7)
    axes = figure.subplots()
    width = 0.72 / max(1, len(styles))
    for m, (method, style) in enumerate(styles.items()):
        record = next(r for r in records if str(r.get("method")) == method)
        potential = record.get("prune_potential") or {}
        xs, ys, lows, highs = [], [], [], []
        for d, distribution in enumerate(distributions):
            entry = _interval(potential.get(distribution) or {})
            if entry is None:
                continue
            value, low, high = entry
            xs.append(d + (m - (len(styles) - 1) / 2) * width)
            ys.append(value)
            lows.append(value - low)
            highs.append(high - value)
            seeds = seed_potentials(record, distribution)
            _seed_markers(axes, [xs[-1] + width * 0.3] * len(seeds), seeds, style.color)
        axes.errorbar(
            xs, ys, yerr=[lows, highs], marker=style.marker, color=style.color, linestyle="none",
            markersize=4.5, elinewidth=1.0, capsize=2, label=method,
        )  # fmt: skip
    for d, distribution in enumerate(distributions):
        if distribution in degenerate:
            axes.axvspan(d - 0.45, d + 0.45, color="#f0f0f0", zorder=0, linewidth=0)
    if NOMINAL in distributions and len(distributions) > 1:
        axes.axvline(0.5, color="0.5", linewidth=0.8)
    axes.set_xticks(range(len(distributions)))
    labels = [tick_label(d) + (" †" if d in degenerate else "") for d in distributions]
    axes.set_xticklabels(labels, rotation=35, ha="right", rotation_mode="anchor")
    for label, distribution in zip(axes.get_xticklabels(), distributions, strict=True):
        if distribution in degenerate:
            label.set_color("0.5")
    axes.set_xlim(-0.6, len(distributions) - 0.4)
    axes.set_ylim(-2, 102)
    axes.set_ylabel("prune potential (%)")
    axes.grid(axis="y", alpha=0.3, linewidth=0.5)
    _seed_legend(axes)
    _legend(figure, axes, columns=4)
    note = "; † parent at chance, excluded from the summary" if degenerate else ""
    figure.suptitle(
        f"{group_title(records)}: prune potential per distribution (bars: {interval_note(records)}"
        f"{note})", fontsize=8,
    )  # fmt: skip
    return figure


@styled
def potential_gap(records: Sequence[Record]) -> Figure | None:
    """Per method: nominal PP next to mean shifted PP (left) and their gap (right), with intervals.

    A gap whose interval lies above 0 says the method's networks are prunable less far on
    shifted data than on the test set, beyond the measurement's uncertainty.
    """
    rows = []
    for record in records:
        summary = record.get("summary") or {}
        nominal = _interval(summary.get("nominal_pp") or {})
        shifted = _interval(summary.get("shifted_pp_mean") or {})
        if nominal is None or shifted is None:
            continue
        gap = summary.get("gap") or {}
        rows.append((str(record.get("method")), nominal, shifted, gap, seed_summary(record)))
    if not rows:
        return None
    styles = method_styles(records)
    figure = new_figure(PAGE_WIDTH, 2.4)
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    for i, (method, nominal, shifted, gap, seeds) in enumerate(rows):
        style = styles[method]
        for offset, (value, low, high), filled in ((-0.15, nominal, True), (0.15, shifted, False)):
            left.errorbar(
                [i + offset], [value], yerr=[[value - low], [high - value]], marker=style.marker,
                color=style.color, markerfacecolor=style.color if filled else "white",
                markersize=5, capsize=2, elinewidth=1.0, linestyle="none",
            )  # fmt: skip
        for offset, metric in ((-0.05, "nominal_pp"), (0.25, "shifted_pp_mean")):
            items = seeds.get(metric) or []
            _seed_markers(left, [i + offset] * len(items), items, style.color)
        if finite(gap.get("mean")):
            value = 100 * float(gap["mean"])
            ci = [100 * v for v in gap["ci"]] if gap.get("ci") else [value, value]
            right.errorbar(
                [value], [i], xerr=[[value - min(ci[0], value)], [max(ci[1], value) - value]],
                marker=style.marker, color=style.color, markersize=5, capsize=2,
                elinewidth=1.0, linestyle="none",
            )  # fmt: skip
            gaps = seeds.get("gap") or []  # plain circles: a gap's bound is in the tables
            _seed_markers(right, [i + 0.22] * len(gaps), gaps, style.color, horizontal=True)
    left.plot([], [], marker="o", color="0.3", linestyle="none", label=distribution_label(NOMINAL))
    left.plot([], [], marker="o", color="0.3", markerfacecolor="white", linestyle="none",
              label="shifted (mean)")  # fmt: skip
    _seed_legend(left)
    _legend(figure, left, columns=5)
    left.set_xticks(range(len(rows)))
    left.set_xticklabels([row[0] for row in rows])
    left.set_xlim(-0.6, len(rows) - 0.4)
    left.set_ylim(-2, 102)
    left.set_ylabel("prune potential (%)")
    left.grid(axis="y", alpha=0.3, linewidth=0.5)
    right.axvline(0, color="0.3", linewidth=0.8)
    right.set_yticks(range(len(rows)))
    right.set_yticklabels([row[0] for row in rows])
    right.set_ylim(len(rows) - 0.5, -0.5)
    right.set_xlabel("gap = nominal − shifted PP (points)")
    right.grid(axis="x", alpha=0.3, linewidth=0.5)
    figure.suptitle(f"{group_title(records)}: nominal vs shifted prune potential "
                    f"(bars: {interval_note(records)})", fontsize=8)  # fmt: skip
    return figure


@styled
def excess_error(records: Sequence[Record]) -> Figure | None:
    """Excess error vs prune ratio per method (seed mean, min–max band) with the slope line.

    The slope line is `excess error = slope × prune ratio` (the record's mean slope): a pruned
    net at ratio 0 is the parent, whose excess error is 0 by definition.
    """
    styles = method_styles(records)
    figure = new_figure(PAGE_WIDTH / 2, 2.7)
    axes = figure.subplots()
    drawn = False
    for record in records:
        data = record.get("excess_error") or {}
        ratios = [float(r) for r in data.get("ratios") or [] if finite(r)]
        rows = [
            row
            for row in data.get("values") or []
            if row and len(row) == len(ratios) and all(finite(v) for v in row)
        ]
        if not ratios or not rows:
            continue
        style = styles[str(record.get("method"))]
        columns = [[100 * v for v in column] for column in zip(*rows, strict=True)]
        xs = [0.0, *(100 * r for r in ratios)]
        axes.plot(xs, [0.0, *(mean(c) for c in columns)], label=str(record.get("method")),
                  **style.line())  # fmt: skip
        if len(rows) > 1:
            axes.fill_between(xs, [0.0, *(min(c) for c in columns)],
                              [0.0, *(max(c) for c in columns)], color=style.color, alpha=0.15,
                              linewidth=0)  # fmt: skip
        slope = (data.get("slope") or {}).get("mean")
        if finite(slope):  # points per % pruned: the slope itself, both axes scaled by 100
            axes.plot([0, 100 * max(ratios)], [0, 100 * float(slope) * max(ratios)],
                      color=style.color, linestyle=":", linewidth=1.0)  # fmt: skip
        drawn = True
    if not drawn:
        return None
    axes.axhline(0, color="0.3", linewidth=0.7)
    axes.plot([], [], color="0.3", linestyle=":", label="slope fit")
    axes.set_xlabel("prune ratio (%)")
    axes.set_ylabel("excess error (points)")
    axes.set_xlim(0, 100)
    axes.grid(alpha=0.25, linewidth=0.5)
    _legend(figure, axes, columns=3)
    figure.suptitle(f"{group_title(records)}: excess error (band: seed min–max)", fontsize=8)
    return figure


def save_png(figure: Figure, path: Any) -> None:
    """Write `figure` as PNG and SVG next to each other (`path`'s suffix is replaced)."""
    save_figure(figure, path)
