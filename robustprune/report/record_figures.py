"""The report's per-record figures: similarity to the parent under noise and cross-confidence.

Each takes one record and the other records of its network (``peers``), so figures of one
network share their scales: one y-range per similarity metric, one 0-100 % colour scale.
Agreement and confidence are drawn in %, as the tables show them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from robustprune.report.style import (
    PAGE_WIDTH,
    finite,
    group_title,
    legend_below,
    new_figure,
    styled,
)

Record = dict[str, Any]
_finite, _legend = finite, legend_below


def _similarity_series(similarity: dict[str, Any], metric: str, ratio: Any) -> list[float] | None:
    """The ``metric`` curve of prune ratio ``ratio``: the record's text keys ("0.5000", or any
    other spelling of the number) are read back as numbers and matched to ``ratio`` as one."""
    try:
        wanted = float(ratio)
    except (TypeError, ValueError):
        return None
    for key, values in (similarity.get(metric) or {}).items():
        try:
            if math.isclose(float(key), wanted):
                return values
        except (TypeError, ValueError):
            continue
    return None


SIMILARITY_METRICS = {"agreement": 100.0, "softmax_l2": 1.0}
"""Similarity curves and their scale: agreement in %, the softmax ℓ2 distance as it is."""


def similarity_limits(records: Sequence[Record]) -> dict[str, tuple[float, float]]:
    """One y-range per similarity metric over ``records`` (e.g. every method of one network),
    so their figures compare at a glance; padded by 5 % of the span."""
    limits = {}
    for metric, scale in SIMILARITY_METRICS.items():
        values = [
            scale * float(v)
            for record in records
            if isinstance(record.get("similarity"), dict)
            for series in [
                *((record["similarity"].get(metric) or {}).values()),
                (record["similarity"].get("reference") or {}).get(metric) or [],
            ]
            for v in series
            if finite(v)
        ]
        if values:
            pad = 0.05 * (max(values) - min(values) or 1.0)
            limits[metric] = (min(values) - pad, max(values) + pad)
    return limits


@styled
def noise_similarity(record: Record, peers: Sequence[Record] = ()) -> Figure | None:
    """Label agreement (%) and softmax ℓ2 distance to the parent vs noise ε, per prune ratio.

    The separately trained parent (another seed) is the black reference line: a pruned net
    below it in distance is closer to its parent than an independently trained twin is. With
    ``peers`` (the other methods' records of the same network) every figure gets the same
    y-range per metric. Returns None when the record's "similarity" is null or malformed.
    """
    similarity = record.get("similarity")
    if not isinstance(similarity, dict):
        return None
    eps = [float(e) for e in similarity.get("eps") or [] if _finite(e)]
    ratios = list(similarity.get("ratios") or [])
    if not eps or not ratios:
        return None
    figure = new_figure(PAGE_WIDTH, 2.8)
    agreement_axes, distance_axes = figure.subplots(1, 2)
    colormap = matplotlib.colormaps["viridis"]
    drawn = False
    limits = similarity_limits([record, *peers])
    for metric, axes, label in (
        ("agreement", agreement_axes, "label agreement with parent (%)"),
        ("softmax_l2", distance_axes, "softmax ℓ2 distance to parent"),
    ):
        scale = SIMILARITY_METRICS[metric]
        for index, ratio in enumerate(ratios):
            values = _similarity_series(similarity, metric, ratio)
            if values is None or len(values) != len(eps):
                continue
            color = colormap(index / max(len(ratios) - 1, 1) * 0.9)
            axes.plot(
                eps,
                [scale * v for v in values],
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
                [scale * v for v in reference],
                color="black",
                linestyle="--",
                linewidth=1.5,
                label="separately trained parent",
            )
        axes.set_xlabel("noise ε (normalized inputs)")
        axes.set_ylabel(label)
        if metric in limits:
            axes.set_ylim(*limits[metric])
        axes.grid(alpha=0.3)
    if not drawn:
        return None
    _legend(figure, agreement_axes, columns=6)
    figure.suptitle(
        f"{group_title([record])} {record.get('method')}: similarity under noise", fontsize=8
    )
    return figure


@styled
def cross_confidence(record: Record, peers: Sequence[Record] = ()) -> Figure | None:
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
    size = min(PAGE_WIDTH - 1.6, 1.4 + 0.6 * len(models))
    figure = new_figure(size + 1.6, size)
    axes = figure.subplots()
    matrix = [[100 * float(value) for value in row] for row in matrix]
    image = axes.imshow(matrix, cmap="magma", vmin=0, vmax=100)  # one scale for every method
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            axes.text(
                j,
                i,
                f"{value:.0f}",
                ha="center",
                va="center",
                fontsize="small",
                color="white" if value < 60 else "black",
            )
    axes.set_xticks(range(len(models)))
    axes.set_xticklabels(models, rotation=30, ha="right", fontsize="small")
    axes.set_yticks(range(len(models)))
    axes.set_yticklabels(models, fontsize="small")
    axes.set_xlabel("pixel subset chosen by")
    axes.set_ylabel("confidence of")
    figure.colorbar(image, ax=axes, label="confidence in true class (%)")
    figure.suptitle(f"{group_title([record])} {record.get('method')}: cross-confidence", fontsize=8)
    return figure
