"""The paper's claim on held-out parents: is the gap (nominal minus shifted prune potential) > 0?

Reads a leaderboard written with seeds that were never used to choose the suite's settings
(docs/statistics.md declares them) and prints, per method:

- every network's per-seed gaps, their mean and a seed-level 95 % Student-t interval (the
  retraining noise that matters is between parents, so seeds are the unit of resampling);
- a one-sided t-test of gap > 0 per network, Holm-adjusted over the networks of the method,
  and simultaneous (Bonferroni) 95 % lower bounds, so a per-network claim holds for all of
  them at once;
- the pooled gap across networks (the mean of the networks' means) with a stratified
  bootstrap interval over seeds (10,000 resamples, Monte Carlo error printed);
- how many values are censored by the grid: a nominal prune potential at the grid's last point
  is really ">= last point", a shifted one at 0 is really "< first point"; the "censored
  worst" column repeats Holm's test with every shifted 0 replaced by the first grid point (a
  censored nominal value only makes the true gap larger, so it needs no such column).

    pytest benchmarks/ -n 2 --rp-seeds 100-104 --rp-leaderboard heldout/
    robustprune bench claims heldout/leaderboard.json [--methods WT,SiPP]

Needs scipy (Student-t quantiles): ``pip install 'robustprune[stats]'``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tabulate import tabulate

from robustprune.distributions import NOMINAL
from robustprune.leaderboard import load_leaderboard

try:
    from scipy import stats
except ImportError:  # the stats extra; the message below says how to get it
    stats = None

RESAMPLES = 10_000
CONFIDENCE = 0.95


def per_seed_values(record: dict, grid_start: float) -> dict[str, list[float]]:
    """Per-seed nominal PP, shifted PP mean and gap of one record (flagged shifts left out).

    ``worst_gap`` is the gap with every shifted PP of 0 (really "below the grid's first point")
    replaced by ``grid_start``: the smallest gap the censored values allow."""
    potential = record["prune_potential"]
    shifts = [
        name
        for name in record["distributions"]
        if name != NOMINAL and name not in record.get("degenerate", {})
    ]
    nominal = potential[NOMINAL]["values"]
    shifted = [
        float(np.mean([potential[s]["values"][i] for s in shifts])) for i in range(len(nominal))
    ]
    worst_shifted = [
        float(np.mean([potential[s]["values"][i] or grid_start for s in shifts]))
        for i in range(len(nominal))
    ]
    return {
        "nominal": nominal,
        "worst_gap": [n - s for n, s in zip(nominal, worst_shifted, strict=True)],
        "shifted": shifted,
        "gap": [n - s for n, s in zip(nominal, shifted, strict=True)],
        "shifted_zero": sum(
            potential[s]["values"][i] == 0.0 for s in shifts for i in range(len(nominal))
        ),
        "shifted_count": len(shifts) * len(nominal),
    }


def t_interval(values: list[float], confidence: float) -> tuple[float, float]:
    """Two-sided Student-t interval of the mean of ``values``."""
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return (math.nan, math.nan)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)


def one_sided_p(values: list[float]) -> float:
    """p-value of the one-sided t-test of mean > 0 (1.0 when every value is equal and <= 0)."""
    spread = float(np.std(values, ddof=1))
    mean = float(np.mean(values))
    if spread == 0.0:
        return 0.0 if mean > 0 else 1.0
    statistic = mean / (spread / math.sqrt(len(values)))
    return float(stats.t.sf(statistic, len(values) - 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (controls the family-wise error over the list)."""
    order = np.argsort(p_values)
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def pooled_bootstrap(gaps_by_arch: list[list[float]], seed: int = 0) -> tuple[float, float, float]:
    """Stratified bootstrap over seeds of the mean of per-network mean gaps: (low, high, MC error
    of the bounds, estimated as the spread of the bound over 20 independent halves)."""
    generator = np.random.default_rng(seed)
    means = np.zeros(RESAMPLES)
    for gaps in gaps_by_arch:
        values = np.asarray(gaps)
        picks = generator.integers(0, len(values), size=(RESAMPLES, len(values)))
        means += values[picks].mean(axis=1)
    means /= len(gaps_by_arch)
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    chunks = np.array_split(means, 20)
    error = float(np.std([np.quantile(chunk, alpha) for chunk in chunks]) / math.sqrt(20))
    return float(low), float(high), error


def method_table(records: list[dict], grid: list[float]) -> tuple[list[list], list]:
    rows, gaps_by_arch, p_values, worst_p_values = [], [], [], []
    for record in sorted(records, key=lambda r: r["arch"]):
        values = per_seed_values(record, grid[0])
        gaps = values["gap"]
        gaps_by_arch.append(gaps)
        p_values.append(one_sided_p(gaps))
        worst_p_values.append(one_sided_p(values["worst_gap"]))
        low, high = t_interval(gaps, CONFIDENCE)
        simultaneous_low, _ = t_interval(gaps, 1 - 2 * (1 - CONFIDENCE) / len(records))
        at_end = sum(v >= grid[-1] - 1e-3 for v in values["nominal"])
        rows.append(
            [
                record["arch"],
                " ".join(f"{100 * g:5.1f}" for g in gaps),
                f"{100 * np.mean(gaps):.1f} [{100 * low:.1f}, {100 * high:.1f}]",
                f"{100 * simultaneous_low:.1f}",
                f"{at_end}/{len(gaps)}",
                f"{values['shifted_zero']}/{values['shifted_count']}",
            ]
        )
    for row, p, adjusted, worst in zip(
        rows, p_values, holm(p_values), holm(worst_p_values), strict=True
    ):
        row[4:4] = [f"{p:.4f}", f"{adjusted:.4f}", f"{worst:.4f}"]
    return rows, [gaps_by_arch, p_values, worst_p_values]


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("leaderboard", type=Path)
    parser.add_argument("--methods", default="", help="comma-separated methods (default: all)")
    args = parser.parse_args(argv)
    if stats is None:
        raise SystemExit(
            f"{parser.prog} needs scipy for its Student-t intervals, which is not installed: "
            "pip install 'robustprune[stats]' (or pip install scipy)"
        )
    board = load_leaderboard(args.leaderboard)
    records = board["records"]
    methods = [m for m in args.methods.split(",") if m] or sorted({r["method"] for r in records})
    seeds = sorted({s for r in records for s in r["seeds"]})
    print(f"leaderboard {args.leaderboard}: seeds {seeds}, delta {records[0]['delta']}")
    for method in methods:
        chosen = [r for r in records if r["method"] == method]
        if not chosen:
            raise SystemExit(
                f"no record of method {method!r}; methods: {sorted({r['method'] for r in records})}"
            )
        grid = sorted(point["target_ratio"] for point in chosen[0]["curve"][0])
        rows, (gaps_by_arch, p_values, worst_p_values) = method_table(chosen, grid)
        print(f"\n{method}: gap = nominal PP - shifted PP mean, in points")
        print(
            tabulate(
                rows,
                headers=[
                    "arch", "per-seed gaps", "mean [95 % t, seeds]", "simultaneous low",
                    "p (gap>0)", "Holm p", "Holm p, censored worst",
                    "nominal at grid end", "shifted PP = 0",
                ],
            )
        )  # fmt: skip
        low, high, error = pooled_bootstrap(gaps_by_arch)
        pooled = float(np.mean([np.mean(g) for g in gaps_by_arch]))
        held = sum(p <= 1 - CONFIDENCE for p in holm(p_values))
        held_worst = sum(p <= 1 - CONFIDENCE for p in holm(worst_p_values))
        print(
            f"pooled gap over {len(gaps_by_arch)} networks: {100 * pooled:.1f} "
            f"[{100 * low:.1f}, {100 * high:.1f}] (stratified bootstrap over seeds, {RESAMPLES} "
            f"resamples, Monte Carlo error of the bounds ~{100 * error:.2f}); "
            f"gap > 0 at family-wise 5 % (Holm) on {held} of {len(gaps_by_arch)} networks "
            f"({held_worst} with every shifted PP of 0 counted as the grid's first point); "
            f"mean per-seed gap > 0 on {sum(np.mean(g) > 0 for g in gaps_by_arch)} of {len(gaps_by_arch)}"
        )


if __name__ == "__main__":
    main()
