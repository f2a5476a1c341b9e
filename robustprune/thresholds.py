"""A case's pass/fail rules, and a failure message that shows the curve behind the numbers."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from robustprune.distributions import NOMINAL, short_distribution
from robustprune.suite import Thresholds


def effective_thresholds(record: dict[str, Any]) -> dict[str, Any]:
    """The suite's thresholds for this record, one per shift (the default where none is set).

    Baseline comparisons are not thresholds: ``--rp-compare-fail`` gates go through
    ``robustprune.leaderboard.case_gate_failures``, the same code as ``robustprune compare``.
    """
    suite = record["thresholds"]
    shifted = Thresholds.from_dict(suite).for_shift
    return {
        "nominal_pp": suite["nominal_pp"],
        "shifted_pp": {name: shifted(name) for name in record["distributions"] if name != NOMINAL},
        "excess_error_slope_max": suite["excess_error_slope_max"],
    }


def check_record(record: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """Every violated threshold as a sentence; empty when the case passes."""
    failures = []
    potential = record["prune_potential"]
    nominal = potential[NOMINAL]["mean"]
    if nominal < thresholds["nominal_pp"]:
        failures.append(
            f"nominal prune potential {nominal:.1%} < threshold {thresholds['nominal_pp']:.1%}"
        )
    for name, minimum in thresholds["shifted_pp"].items():
        value = potential[name]["mean"]
        if value < minimum:
            failures.append(f"prune potential under {name} {value:.1%} < threshold {minimum:.1%}")
    bound = thresholds["excess_error_slope_max"]
    excess = record.get("excess_error")
    if bound is not None and excess is not None:
        slope = excess["slope"]["mean"]
        if slope > bound:
            failures.append(f"excess-error slope {slope:.3f} > bound {bound:.3f}")
    return failures


def describe_curve(record: dict[str, Any], seed_index: int = 0) -> str:
    """The prune curve of one seed as a table: accuracy per distribution, parent row first."""
    distributions = record["distributions"]
    parent_row = [
        "parent",
        "",
        *[record["parent"][d]["accuracy"][seed_index] for d in distributions],
    ]
    rows = [parent_row]
    for point in record["curve"][seed_index]:
        rows.append(
            [
                f"{point['prune_ratio']:.3f}",
                f"{point['flop_reduction']:.3f}",
                *[point["accuracy"][d] for d in distributions],
            ]
        )
    headers = ["prune ratio", "FLOP red.", *[short_distribution(d) for d in distributions]]
    delta = record["delta"]
    seed = record["seeds"][seed_index]
    title = (
        f"{record['suite']}/{record['arch']}/{record['method']} seed {seed}: top-1 accuracy "
        f"(a ratio counts toward prune potential while accuracy >= parent - {delta:.1%})"
    )
    return title + "\n" + tabulate(rows, headers=headers, floatfmt=".4f")


def failure_message(record: dict[str, Any], failures: list[str]) -> str:
    """What a failing case prints: the violations, then the curve of every seed."""
    curves = "\n\n".join(describe_curve(record, i) for i in range(len(record["seeds"])))
    return "\n".join(f"- {failure}" for failure in failures) + "\n\n" + curves
