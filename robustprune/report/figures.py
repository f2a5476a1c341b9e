"""The report's figures, one function per kind, drawn with matplotlib's Agg backend.

Every function takes leaderboard records (plain dicts, see docs/records.md) and returns a
`matplotlib.figure.Figure`, or None when the records lack the data the figure needs. Figures are
built without pyplot on an Agg canvas, so no global state or GUI backend is involved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

Record = dict[str, Any]

NOMINAL = "nominal"
_METHOD_COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
]
_DPI = 100


def distribution_label(distribution: str) -> str:
    """A short human label: 'corruption:fog:3' -> 'fog (severity 3)', 'noise:uniform:0.1' -> 'uniform noise ε=0.1'."""
    parts = distribution.split(":")
    if len(parts) == 3 and parts[0] == "corruption":
        return f"{parts[1]} (severity {parts[2]})"
    if len(parts) == 3 and parts[0] == "noise":
        return f"{parts[1]} noise ε={parts[2]}"
    return distribution


def method_colors(records: Sequence[Record]) -> dict[str, str]:
    """One stable color per method label, in order of first appearance."""
    colors: dict[str, str] = {}
    for record in records:
        method = str(record.get("method", "?"))
        if method not in colors:
            colors[method] = _METHOD_COLORS[len(colors) % len(_METHOD_COLORS)]
    return colors


def _new_figure(width: float, height: float) -> Figure:
    """A figure drawn by the headless Agg backend (no pyplot, no global backend switch)."""
    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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


def _grid(count: int, max_columns: int = 4) -> tuple[int, int]:
    columns = min(max_columns, max(count, 1))
    return math.ceil(count / columns), columns


def _mean_curve(
    record: Record, distribution: str
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Seed-averaged curve on one distribution: (prune ratio, mean, min, max accuracy).

    Points are matched across seeds by their target ratio; a seed missing a point or the
    distribution is left out of that point's statistics.
    """
    by_target: dict[float, tuple[list[float], list[float]]] = {}
    for seed_curve in record.get("curve") or []:
        for point in seed_curve or []:
            accuracy = (point.get("accuracy") or {}).get(distribution)
            ratio = point.get("prune_ratio")
            if not (_finite(accuracy) and _finite(ratio)):
                continue
            target = point.get("target_ratio", ratio)
            ratios, accuracies = by_target.setdefault(round(float(target), 6), ([], []))
            ratios.append(float(ratio))
            accuracies.append(float(accuracy))
    xs, means, lows, highs = [], [], [], []
    for target in sorted(by_target):
        ratios, accuracies = by_target[target]
        xs.append(_mean(ratios))
        means.append(_mean(accuracies))
        lows.append(min(accuracies))
        highs.append(max(accuracies))
    return xs, means, lows, highs


def _parent_accuracy(records: Sequence[Record], distribution: str) -> float | None:
    """Mean parent accuracy on a distribution over all seeds of all records (they share parents)."""
    values = [
        float(v)
        for record in records
        for v in ((record.get("parent") or {}).get(distribution) or {}).get("accuracy") or []
        if _finite(v)
    ]
    return _mean(values) if values else None


def _finish(figure: Figure, axes: Axes, title: str) -> Figure:
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(
            handles,
            labels,
            loc="lower center",
            ncol=min(len(labels), 6),
            frameon=False,
            fontsize="small",
        )
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    return figure


def accuracy_curves(records: Sequence[Record]) -> Figure | None:
    """Accuracy vs prune ratio for every method, one panel per distribution (small multiples).

    Each panel shows the parent's accuracy as a dashed line, the band within which a pruned net
    still counts as "as good as the parent" (parent accuracy - delta) shaded, and per method the
    seed mean with the seed spread (min to max) as a light band. `records` share dataset and arch.
    """
    distributions = _distributions(records)
    curves = {(r.get("method"), d): _mean_curve(r, d) for r in records for d in distributions}
    distributions = [
        d for d in distributions if any(curves[(r.get("method"), d)][0] for r in records)
    ]
    if not distributions:
        return None
    colors = method_colors(records)
    rows, columns = _grid(len(distributions))
    figure = _new_figure(3.4 * columns, 2.9 * rows + 0.6)
    axes_grid = figure.subplots(rows, columns, squeeze=False, sharex=True)
    delta = next((float(r["delta"]) for r in records if _finite(r.get("delta"))), None)
    for index, distribution in enumerate(distributions):
        axes = axes_grid[index // columns][index % columns]
        parent = _parent_accuracy(records, distribution)
        if parent is not None:
            axes.axhline(parent, color="black", linestyle="--", linewidth=1, label="parent")
            if delta is not None:
                axes.axhspan(parent - delta, parent, color="0.6", alpha=0.35, label="parent − δ")
        for record in records:
            xs, means, lows, highs = curves[(record.get("method"), distribution)]
            if not xs:
                continue
            color = colors[str(record.get("method"))]
            axes.plot(
                xs, means, marker="o", markersize=3, color=color, label=str(record.get("method"))
            )
            axes.fill_between(xs, lows, highs, color=color, alpha=0.15, linewidth=0)
        axes.set_title(distribution_label(distribution), fontsize="medium")
        axes.set_xlim(0, 1)
        axes.grid(alpha=0.3)
        if index % columns == 0:
            axes.set_ylabel("top-1 accuracy")
        if index // columns == rows - 1 or index + columns >= len(distributions):
            axes.set_xlabel("prune ratio")
            axes.tick_params(labelbottom=True)
    for index in range(len(distributions), rows * columns):
        axes_grid[index // columns][index % columns].set_visible(False)
    return _finish(figure, axes_grid[0][0], f"{_group_title(records)}: accuracy vs prune ratio")


def prune_potential_bars(records: Sequence[Record]) -> Figure | None:
    """Prune potential per method, nominal next to each shift; error bars are the seed std."""
    distributions = [
        d
        for d in _distributions(records)
        if any(
            _finite(((r.get("prune_potential") or {}).get(d) or {}).get("mean")) for r in records
        )
    ]
    if not distributions:
        return None
    colors = method_colors(records)
    methods = list(colors)
    width = 0.8 / len(methods)
    figure = _new_figure(min(24.0, max(6.0, 1.2 + 0.45 * len(methods) * len(distributions))), 4.2)
    axes = figure.subplots()
    for m, method in enumerate(methods):
        record = next(r for r in records if str(r.get("method")) == method)
        potential = record.get("prune_potential") or {}
        heights, errors = [], []
        for distribution in distributions:
            entry = potential.get(distribution) or {}
            heights.append(float(entry["mean"]) if _finite(entry.get("mean")) else 0.0)
            errors.append(float(entry["std"]) if _finite(entry.get("std")) else 0.0)
        positions = [d + (m - (len(methods) - 1) / 2) * width for d in range(len(distributions))]
        axes.bar(
            positions,
            heights,
            width=width * 0.95,
            yerr=errors,
            capsize=2,
            color=colors[method],
            label=method,
            error_kw={"linewidth": 0.8},
        )
    axes.set_xticks(range(len(distributions)))
    axes.set_xticklabels(
        [distribution_label(d) for d in distributions], rotation=20, ha="right", fontsize="small"
    )
    axes.set_ylabel("prune potential")
    axes.set_ylim(0, 1)
    axes.grid(axis="y", alpha=0.3)
    return _finish(figure, axes, f"{_group_title(records)}: prune potential per distribution")


def excess_error(records: Sequence[Record]) -> Figure | None:
    """Excess error vs prune ratio per method (seed mean and spread) with the fitted slope line.

    The slope line is `excess error = slope × prune ratio` (the record's mean slope): a pruned
    net at ratio 0 is the parent, whose excess error is 0 by definition.
    """
    colors = method_colors(records)
    figure = _new_figure(6.4, 4.2)
    axes = figure.subplots()
    drawn = False
    for record in records:
        data = record.get("excess_error") or {}
        ratios = [float(r) for r in data.get("ratios") or [] if _finite(r)]
        rows = [
            row
            for row in data.get("values") or []
            if row and len(row) == len(ratios) and all(_finite(v) for v in row)
        ]
        if not ratios or not rows:
            continue
        color = colors[str(record.get("method"))]
        columns = list(zip(*rows, strict=True))
        axes.plot(
            ratios,
            [_mean(c) for c in columns],
            marker="o",
            markersize=3,
            color=color,
            label=str(record.get("method")),
        )
        if len(rows) > 1:
            axes.fill_between(
                ratios,
                [min(c) for c in columns],
                [max(c) for c in columns],
                color=color,
                alpha=0.15,
                linewidth=0,
            )
        slope = (data.get("slope") or {}).get("mean")
        if _finite(slope):
            axes.plot(
                [0, max(ratios)],
                [0, float(slope) * max(ratios)],
                color=color,
                linestyle=":",
                linewidth=1.5,
            )
        drawn = True
    if not drawn:
        return None
    axes.axhline(0, color="black", linewidth=0.8)
    axes.plot([], [], color="0.3", linestyle=":", label="slope fit")
    axes.set_xlabel("prune ratio")
    axes.set_ylabel("excess error (shifted − nominal, vs parent)")
    axes.set_xlim(0, 1)
    axes.grid(alpha=0.3)
    return _finish(figure, axes, f"{_group_title(records)}: excess error")


def _similarity_series(similarity: dict[str, Any], metric: str, ratio: Any) -> list[float] | None:
    table = similarity.get(metric) or {}
    if str(ratio) in table:
        return table[str(ratio)]
    for key, values in table.items():  # keys written as e.g. "0.50" still match 0.5
        try:
            if math.isclose(float(key), float(ratio)):
                return values
        except (TypeError, ValueError):
            continue
    return None


def noise_similarity(record: Record) -> Figure | None:
    """Label agreement and softmax ℓ2 distance to the parent vs noise ε, per prune ratio.

    The separately trained parent (another seed) is the black reference line: a pruned net
    below it in distance is closer to its parent than an independently trained twin is.
    Returns None when the record's "similarity" is null or malformed.
    """
    similarity = record.get("similarity")
    if not isinstance(similarity, dict):
        return None
    eps = [float(e) for e in similarity.get("eps") or [] if _finite(e)]
    ratios = list(similarity.get("ratios") or [])
    if not eps or not ratios:
        return None
    figure = _new_figure(9.0, 3.8)
    agreement_axes, distance_axes = figure.subplots(1, 2)
    colormap = matplotlib.colormaps["viridis"]
    drawn = False
    for metric, axes, label in (
        ("agreement", agreement_axes, "label agreement with parent"),
        ("softmax_l2", distance_axes, "softmax ℓ2 distance to parent"),
    ):
        for index, ratio in enumerate(ratios):
            values = _similarity_series(similarity, metric, ratio)
            if values is None or len(values) != len(eps):
                continue
            color = colormap(index / max(len(ratios) - 1, 1) * 0.9)
            axes.plot(
                eps,
                values,
                color=color,
                marker="o",
                markersize=2.5,
                label=f"pruned {float(ratio):.0%}",
            )
            drawn = True
        reference = (similarity.get("reference") or {}).get(metric)
        if reference is not None and len(reference) == len(eps):
            axes.plot(
                eps,
                reference,
                color="black",
                linestyle="--",
                linewidth=1.5,
                label="separately trained parent",
            )
        axes.set_xlabel("noise ε (normalized inputs)")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    if not drawn:
        return None
    return _finish(
        figure,
        agreement_axes,
        f"{_group_title([record])} {record.get('method')}: similarity under noise",
    )


def cross_confidence(record: Record) -> Figure | None:
    """Heat map of the record's optional "features" cross-confidence matrix.

    Cell (i, j) is model i's confidence toward the true class on the pixel subset (Sufficient
    Input Subset) chosen by model j. Returns None when "features" is absent or not square.
    """
    features = record.get("features")
    if not isinstance(features, dict):
        return None
    models = [str(m) for m in features.get("models") or []]
    matrix = features.get("cross_confidence") or []
    if (
        not models
        or len(matrix) != len(models)
        or any(len(row) != len(models) or not all(_finite(v) for v in row) for row in matrix)
    ):
        return None
    size = 1.6 + 0.9 * len(models)
    figure = _new_figure(size + 1.4, size)
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="magma", vmin=0, vmax=1)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            axes.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize="small",
                color="white" if value < 0.6 else "black",
            )
    axes.set_xticks(range(len(models)))
    axes.set_xticklabels(models, rotation=30, ha="right", fontsize="small")
    axes.set_yticks(range(len(models)))
    axes.set_yticklabels(models, fontsize="small")
    axes.set_xlabel("pixel subset chosen by")
    axes.set_ylabel("confidence of")
    figure.colorbar(image, ax=axes, label="confidence in true class")
    figure.suptitle(f"{_group_title([record])} {record.get('method')}: cross-confidence")
    figure.tight_layout()
    return figure


def _group_title(records: Sequence[Record]) -> str:
    first = records[0] if records else {}
    return f"{first.get('dataset', '?')} / {first.get('arch', '?')}"


def save_png(figure: Figure, path: Any) -> None:
    """Write `figure` as a PNG file at `path`."""
    figure.savefig(path, format="png", dpi=_DPI)
