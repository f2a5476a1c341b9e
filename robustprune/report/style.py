"""Figure style shared by the report's figures: page-width sizes, a colour-blind-safe palette
with a marker and line style per method, labels, and PNG + SVG output."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

Record = dict[str, Any]

PAGE_WIDTH = 7.0
"""Inches: the text width of a two-column paper page; every figure is at most this wide."""
PNG_DPI = 200
"""PNG resolution: 1400 px across at page width."""

# Okabe & Ito (2008), distinguishable with every common colour-vision deficiency; never
# red against green. Each method also gets its own marker and line style, so the figures
# read in greyscale as well.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "robustprune",
}


class MethodStyle:
    """Colour, marker and line style of one method."""

    def __init__(self, index: int) -> None:
        self.color = PALETTE[index % len(PALETTE)]
        self.marker = MARKERS[index % len(MARKERS)]
        self.linestyle = LINESTYLES[index % len(LINESTYLES)]

    def line(self) -> dict[str, Any]:
        """Keyword arguments for ``Axes.plot``."""
        return {
            "color": self.color, "marker": self.marker, "linestyle": self.linestyle,
            "markersize": 3.5, "linewidth": 1.2,
        }  # fmt: skip


def styled(draw: Callable[..., Figure | None]) -> Callable[..., Figure | None]:
    """Run a figure function under the report's rc settings (fonts, spines) without touching
    the global matplotlib state."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Figure | None:
        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


def method_styles(records: Sequence[Record]) -> dict[str, MethodStyle]:
    """One stable style per method label, in order of first appearance."""
    styles: dict[str, MethodStyle] = {}
    for record in records:
        method = str(record.get("method", "?"))
        if method not in styles:
            styles[method] = MethodStyle(len(styles))
    return styles


def new_figure(width: float, height: float) -> Figure:
    """A figure drawn by the headless Agg backend (no pyplot, no global backend switch)."""
    figure = Figure(figsize=(min(width, PAGE_WIDTH), height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def legend_below(figure: Figure, axes: Any, columns: int | None = None) -> None:
    """``axes``' legend entries as one legend under the whole figure (at most 7 columns)."""
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(
            handles, labels, loc="outside lower center", ncol=columns or min(len(labels), 7),
            frameon=False,
        )  # fmt: skip


def finite(value: Any) -> bool:
    """Whether ``value`` is a real number (not a bool, not NaN or infinite)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def slug(text: str) -> str:
    """``text`` made safe as part of a file name or an HTML id."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in str(text)) or "_"


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def group_title(records: Sequence[Record]) -> str:
    first = records[0] if records else {}
    return f"{first.get('dataset', '?')} / {first.get('arch', '?')}"


def interval_note(records: Sequence[Record]) -> str:
    """What the bands and bars show, for captions: the bootstrap when records have it."""
    uncertainty = next((r["uncertainty"] for r in records if r.get("uncertainty")), None)
    if not uncertainty:
        return "min–max over seeds"
    over = " and ".join(uncertainty.get("resampled") or ["test examples"])
    confidence = round(100 * float(uncertainty.get("confidence", 0.95)))
    return f"{confidence}% bootstrap CI over {over}"


def save_figure(figure: Figure, path: Path | str) -> list[Path]:
    """Write ``figure`` as ``<path>.png`` and ``<path>.svg`` (suffix of ``path`` ignored)."""
    base = Path(path).with_suffix("")
    written = []
    with matplotlib.rc_context(RC):
        for suffix, options in ((".png", {"dpi": PNG_DPI}), (".svg", {"metadata": {"Date": None}})):
            target = base.with_suffix(suffix)
            figure.savefig(target, format=suffix[1:], **options)
            written.append(target)
    return written
