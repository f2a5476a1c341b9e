"""The leaderboard schema: metric names and directions, record keys, and validation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

SCHEMA = 2
"""Version of the leaderboard file and of each record; bumped on incompatible changes.

2: bootstrap intervals (``ci``) over test examples and seeds in ``summary``; degenerate shifts
(parent not clearly above chance) flagged in ``degenerate`` and left out of shifted PP mean/min
and the gap; ``chance``, ``uncertainty`` and provenance in ``environment``. Later schema-2
records add ``pruner`` (the class a method label runs and its keyword arguments); records
without it stay valid.
"""
SUPPORTED_SCHEMAS: tuple[int, ...] = (1, 2)
"""Schemas this version reads: schema-1 files (no intervals, nothing flagged) still load."""

SUMMARY_METRICS: tuple[str, ...] = (
    "nominal_pp",
    "shifted_pp_mean",
    "shifted_pp_min",
    "gap",
    "excess_error_slope",
    "flop_reduction_at_pp",
    "similarity",
)
"""Keys of a record's ``summary``, in table column order."""

OPTIONAL_METRICS: tuple[str, ...] = (
    "nominal_accuracy_change",
    "shifted_accuracy_change",
    "speedup_at_pp",
)
"""Summary keys a record may carry (shown, compared and gated when present). The two accuracy
changes are the mean over the grid's prune ratios of (pruned - parent) top-1 accuracy, on the
nominal set and averaged over the summary shifts; records made before them lack them."""
ALL_METRICS: tuple[str, ...] = SUMMARY_METRICS + OPTIONAL_METRICS

METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    "prune_potential": ("nominal_pp", "shifted_pp_mean"),
    "accuracy_change": ("nominal_accuracy_change", "shifted_accuracy_change"),
}
"""Gate names that stand for several metrics: ``prune_potential:5%`` gates nominal PP and
shifted PP mean, each against the tolerance."""
METRIC_ALIASES: dict[str, str] = {}
"""Other names of single metrics (none at present; ``prune_potential`` is a group)."""
LOWER_IS_BETTER: frozenset[str] = frozenset({"gap", "excess_error_slope"})
"""Metrics where a smaller value is better; every other metric is better when larger. The gap
is special in the gate: it worsens when nominal PP or shifted PP mean falls (a gap that shrinks
because nominal PP fell is a regression), see ``robustprune.leaderboard.compare``."""
NULLABLE_METRICS: frozenset[str] = frozenset(
    {"similarity", "shifted_pp_mean", "shifted_pp_min", "gap", "excess_error_slope"}
)
"""Null when undefined: no similarity measured, or no shift left once degenerate ones are out."""
GRID_METRICS: frozenset[str] = frozenset({"nominal_pp", "shifted_pp_mean", "shifted_pp_min", "gap"})
"""Metrics that only take values on the prune-ratio grid (and its seed means)."""

COLUMN_TITLES: dict[str, str] = {
    "nominal_pp": "nominal PP",
    "shifted_pp_mean": "shifted PP mean",
    "shifted_pp_min": "shifted PP min",
    "gap": "gap",
    "excess_error_slope": "excess-err. slope",
    "flop_reduction_at_pp": "FLOP red. at PP",
    "similarity": "similarity",
    "nominal_accuracy_change": "nominal Δacc",
    "shifted_accuracy_change": "shifted Δacc",
    "speedup_at_pp": "speedup at PP ×",
}
PERCENT_METRICS: frozenset[str] = (frozenset(SUMMARY_METRICS) - {"excess_error_slope"}) | {
    "nominal_accuracy_change",
    "shifted_accuracy_change",
}

SIMILARITY_RATIO_DECIMALS = 4
"""Decimals of the prune ratio in the keys of a record's similarity curves."""


def similarity_key(ratio: float) -> str:
    """The key of prune ratio ``ratio``'s curves in a record's ``similarity`` ("agreement",
    "softmax_l2"): 0.5 -> "0.5000". JSON objects need string keys, so code keys the curves by
    the ratio as a number and converts with this function only when it writes a record."""
    return f"{float(ratio):.{SIMILARITY_RATIO_DECIMALS}f}"


Key = tuple[str, str, str, str]
KEY_FIELDS: tuple[str, ...] = ("suite", "dataset", "arch", "method")


class LeaderboardError(ValueError):
    """A leaderboard file or record that does not follow the schema, or cannot be read."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LeaderboardError(f"{path}: expected a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise LeaderboardError(f"{path}: expected a finite number, got {value!r}")


def _typed(value: Any, kind: type | tuple[type, ...], name: str, path: str) -> None:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise LeaderboardError(f"{path}: expected {name}, got {_shown(value)}")


def _dict(value: Any, path: str, required: Sequence[str] = ()) -> dict[str, Any]:
    _typed(value, dict, "an object", path)
    missing = [name for name in required if name not in value]
    if missing:
        raise LeaderboardError(f"{path}: missing field {missing[0]!r}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    _typed(value, list, "a list", path)
    return value


def _numbers(value: Any, path: str) -> None:
    for index, item in enumerate(_list(value, path)):
        _number(item, f"{path}[{index}]")


def _stat(value: Any, path: str, *, values: bool = False) -> None:
    """A ``{"mean", "std"}`` statistic, with per-seed ``values`` when asked."""
    _dict(value, path, ("values", "mean", "std") if values else ("mean", "std"))
    for name in ("mean", "std"):
        _number(value[name], f"{path}.{name}")
    if "values" in value:
        _numbers(value["values"], f"{path}.values")
    if "ci" in value:
        _numbers(value["ci"], f"{path}.ci")
        if len(value["ci"]) != 2 or value["ci"][0] > value["ci"][1]:
            raise LeaderboardError(
                f"{path}.ci: expected [low, high] with low <= high, got {_shown(value['ci'])}"
            )


def _per_distribution(value: Any, path: str, check: Any) -> None:
    for name, item in _dict(value, path).items():
        check(item, f"{path}.{name}")


def _curve_point(point: Any, path: str) -> None:
    _dict(point, path, ("target_ratio", "prune_ratio", "flop_reduction", "accuracy", "loss"))
    for name in ("target_ratio", "prune_ratio", "flop_reduction"):
        _number(point[name], f"{path}.{name}")
    for name in ("accuracy", "loss"):
        _per_distribution(point[name], f"{path}.{name}", _number)


RECORD_FIELDS: tuple[str, ...] = (
    "schema", "suite", "dataset", "arch", "method", "structured", "data_informed", "seeds",
    "delta", "distributions", "shift_sources", "parent", "curve", "prune_potential",
    "flop_reduction_at_pp", "excess_error", "similarity", "summary", "thresholds", "timings",
    "artifacts", "environment",
)  # fmt: skip


RUN_DEPENDENT_FIELDS: tuple[str, ...] = ("timings", "artifacts", "environment", "latency")
"""Record fields that differ between two cold runs of the same code and suite: wall-clock
times, whether artifacts were computed or loaded, the machine, and measured latency."""
RUN_DEPENDENT_SUMMARY: tuple[str, ...] = ("speedup_at_pp",)
"""Summary metrics measured on the clock (the latency block's speedup at the nominal PP)."""


def reproducible_part(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` without its run-dependent fields: what two runs must agree on exactly
    (``-n 0`` against ``-n 2``, a wheel against a checkout, Ray against ``-n 0``)."""
    kept = {k: v for k, v in record.items() if k not in RUN_DEPENDENT_FIELDS}
    kept["summary"] = {k: v for k, v in record["summary"].items() if k not in RUN_DEPENDENT_SUMMARY}
    return kept


def validate_record(record: Any, path: str = "record") -> None:
    """Raise LeaderboardError naming the first field of ``record`` that breaks its schema (1 or 2)."""
    _dict(record, path, RECORD_FIELDS)
    if record["schema"] not in SUPPORTED_SCHEMAS:
        raise LeaderboardError(
            f"{path}.schema: expected one of {list(SUPPORTED_SCHEMAS)}, got {record['schema']!r}"
        )
    for name in KEY_FIELDS:
        _typed(record[name], str, "a string", f"{path}.{name}")
        if not record[name]:
            raise LeaderboardError(f"{path}.{name}: expected a non-empty string, got ''")
    if "pruner" in record:  # records before suite parameters lack it
        pruner = _dict(record["pruner"], f"{path}.pruner", ("class", "arguments"))
        _typed(pruner["class"], str, "a string", f"{path}.pruner.class")
        _dict(pruner["arguments"], f"{path}.pruner.arguments")
    for name in ("structured", "data_informed"):
        _typed(record[name], bool, "true or false", f"{path}.{name}")
    for index, seed in enumerate(_list(record["seeds"], f"{path}.seeds")):
        _typed(seed, int, "an integer", f"{path}.seeds[{index}]")
    _number(record["delta"], f"{path}.delta")
    if record.get("chance") is not None:
        _number(record["chance"], f"{path}.chance")
    _per_distribution(
        record.get("degenerate") or {},
        f"{path}.degenerate",
        lambda value, where: _typed(value, str, "a string (the reason)", where),
    )
    for name, rows in (record.get("accuracy_change_ci") or {}).items():
        for index, interval in enumerate(_list(rows, f"{path}.accuracy_change_ci.{name}")):
            _numbers(interval, f"{path}.accuracy_change_ci.{name}[{index}]")
    if record.get("uncertainty") is not None:
        _dict(record["uncertainty"], f"{path}.uncertainty")
    for index, name in enumerate(_list(record["distributions"], f"{path}.distributions")):
        _typed(name, str, "a string", f"{path}.distributions[{index}]")
    _per_distribution(
        record["shift_sources"],
        f"{path}.shift_sources",
        lambda value, where: _typed(value, str, "a string", where),
    )
    _per_distribution(
        record["parent"],
        f"{path}.parent",
        lambda value, where: [
            _numbers(_dict(value, where, ("accuracy", "loss"))[name], f"{where}.{name}")
            for name in ("accuracy", "loss")
        ],
    )
    for seed_index, points in enumerate(_list(record["curve"], f"{path}.curve")):
        for index, point in enumerate(_list(points, f"{path}.curve[{seed_index}]")):
            _curve_point(point, f"{path}.curve[{seed_index}][{index}]")
    _per_distribution(
        record["prune_potential"],
        f"{path}.prune_potential",
        lambda value, where: _stat(value, where, values=True),
    )
    _per_distribution(
        record["flop_reduction_at_pp"],
        f"{path}.flop_reduction_at_pp",
        lambda value, where: _stat(value, where, values=True),
    )
    excess = _dict(record["excess_error"], f"{path}.excess_error", ("ratios", "values", "slope"))
    _numbers(excess["ratios"], f"{path}.excess_error.ratios")
    for index, row in enumerate(_list(excess["values"], f"{path}.excess_error.values")):
        _numbers(row, f"{path}.excess_error.values[{index}]")
    _stat(excess["slope"], f"{path}.excess_error.slope", values=True)
    if record["similarity"] is not None:
        _dict(record["similarity"], f"{path}.similarity")
    summary = _dict(record["summary"], f"{path}.summary", SUMMARY_METRICS)
    for name in ALL_METRICS:
        if name not in summary:  # an optional metric (required ones were checked above)
            continue
        if summary[name] is None and (name in NULLABLE_METRICS or name in OPTIONAL_METRICS):
            continue
        _stat(summary[name], f"{path}.summary.{name}")
    _per_distribution(
        record.get("mean_accuracy_change") or {},
        f"{path}.mean_accuracy_change",
        lambda value, where: _stat(value, where, values=True),
    )
    if record.get("settings") is not None:
        _dict(record["settings"], f"{path}.settings")
    if record.get("outcomes") is not None:
        outcomes = _dict(
            record["outcomes"], f"{path}.outcomes", ("encoding", "examples", "parent", "curve")
        )
        for name in ("examples", "parent", "curve"):
            _dict(outcomes[name], f"{path}.outcomes.{name}")
    _dict(record["thresholds"], f"{path}.thresholds")
    _per_distribution(record["timings"], f"{path}.timings", _number)
    _dict(record["artifacts"], f"{path}.artifacts")
    _dict(record["environment"], f"{path}.environment")


def validate_leaderboard(leaderboard: Any) -> None:
    """Raise LeaderboardError naming the first field that breaks the schema, or a duplicate key."""
    _dict(leaderboard, "leaderboard", ("schema", "created", "environment", "records"))
    if leaderboard["schema"] not in SUPPORTED_SCHEMAS:
        raise LeaderboardError(
            f"schema: expected one of {list(SUPPORTED_SCHEMAS)}, got {leaderboard['schema']!r}"
        )
    _typed(leaderboard["created"], str, "a string", "created")
    _dict(leaderboard["environment"], "environment")
    seen: dict[Key, int] = {}
    for index, record in enumerate(_list(leaderboard["records"], "records")):
        validate_record(record, f"records[{index}]")
        key = record_key(record)
        if key in seen:
            raise LeaderboardError(
                f"records[{index}]: duplicate key {'/'.join(key)} (also records[{seen[key]}])"
            )
        seen[key] = index


def record_key(record: dict[str, Any]) -> Key:
    """``(suite, dataset, arch, method)``: a leaderboard holds at most one record per key."""
    return tuple(str(record[name]) for name in KEY_FIELDS)  # type: ignore[return-value]


def canonical_metric(name: str) -> str:
    """A metric's or metric group's canonical name (groups: ``prune_potential``,
    ``accuracy_change``); raise ValueError naming the valid ones if unknown."""
    resolved = METRIC_ALIASES.get(name, name)
    if resolved not in ALL_METRICS and resolved not in METRIC_GROUPS:
        choices = ", ".join([*ALL_METRICS, *METRIC_ALIASES, *METRIC_GROUPS])
        raise ValueError(f"unknown metric {name!r}; valid metrics: {choices}")
    return resolved
