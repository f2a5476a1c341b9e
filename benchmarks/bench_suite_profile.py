"""Where a cold benchmark run spends its time, by phase and by architecture.

Runs a selection of ``pytest benchmarks/`` in this process (``-n 0``, a fresh temporary
artifact cache unless ``--rp-cache`` is given) and prints the wall seconds of each phase the
harness times (robustprune.phases), in process CPU and wall seconds: parent training, prune steps (the pruner's ``prune`` call
and the rest of the step), retraining, shifted sets, each evaluation metric, cache I/O.
Arguments after the script's own go to pytest::

    .venv/bin/python benchmarks/bench_suite_profile.py -m smoke
    .venv/bin/python benchmarks/bench_suite_profile.py -k resnet20 --rp-leaderboard out/

Each phase's time excludes the phases inside it; "outside phases" is the rest of the wall time
(imports, collection, records, the terminal summary).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pytest

from robustprune.phases import PhaseTotal, phase_totals, reset_phases

ORDER = [
    "data loading",
    "parent training",
    "parent (other)",
    "prune step: prune call",
    "prune step: rest",
    "retraining",
    "shifted sets",
    "evaluation: accuracy and loss",
    "FLOP count",
    "similarity",
    "features",
    "latency",
    "fingerprints",
    "evaluation: other",
    "cache I/O",
]
"""Rows in the order a case's work happens; a phase not listed here comes after them."""


def profile_table(totals: dict[tuple[str, str], PhaseTotal], wall_s: float, cpu_s: float) -> str:
    """A markdown table: one row per phase, its CPU seconds per architecture ("shared": done
    once per process), then its CPU and wall totals and its share of the run's wall time."""
    archs = sorted({arch for _, arch in totals if arch})
    columns = archs + (["shared"] if any(not arch for _, arch in totals) else [])
    names = sorted(
        {name for name, _ in totals},
        key=lambda n: (n not in ORDER, ORDER.index(n) if n in ORDER else 0, n),
    )
    header = ["phase", *(f"{c} CPU s" for c in columns), "CPU s", "wall s", "share of wall"]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|--:" * (len(header) - 1) + "|"]
    inside_wall = inside_cpu = 0.0
    for name in names:
        cells, row_wall, row_cpu = [], 0.0, 0.0
        for column in columns:
            total = totals.get((name, "" if column == "shared" else column))
            cells.append(f"{total.cpu_s:.1f}" if total else "")
            row_wall += total.wall_s if total else 0.0
            row_cpu += total.cpu_s if total else 0.0
        inside_wall, inside_cpu = inside_wall + row_wall, inside_cpu + row_cpu
        lines.append(
            f"| {name} | {' | '.join(cells)} | {row_cpu:.1f} | {row_wall:.1f} | "
            f"{row_wall / wall_s:.1%} |"
        )
    blank = " | ".join("" for _ in columns)
    outside_wall, outside_cpu = wall_s - inside_wall, cpu_s - inside_cpu
    lines.append(
        f"| outside phases | {blank} | {outside_cpu:.1f} | {outside_wall:.1f} | "
        f"{outside_wall / wall_s:.1%} |"
    )
    lines.append(f"| **whole run** | {blank} | **{cpu_s:.1f}** | **{wall_s:.1f}** | 100% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other arguments (-m smoke, -k resnet20, --rp-leaderboard DIR, ...) go to pytest.",
    )
    parser.add_argument(
        "--benchmarks", default=str(Path(__file__).resolve().parent), help="test directory"
    )
    known, pytest_args = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory(prefix="rp-profile-") as cache:
        if not any(arg.startswith("--rp-cache") for arg in pytest_args):
            pytest_args = ["--rp-cache", cache, *pytest_args]
        args = [known.benchmarks, "-n", "0", "-p", "no:cacheprovider", "-q", *pytest_args]
        reset_phases()
        wall, cpu = time.perf_counter(), time.process_time()
        status = pytest.main(args)
        wall_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    shown = " ".join(arg if arg != cache else "<temporary>" for arg in args)
    print(f"\npytest {shown}: exit {int(status)}, {wall_s:.1f} s wall, {cpu_s:.1f} s CPU\n")
    print(profile_table(phase_totals(), wall_s, cpu_s))
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
