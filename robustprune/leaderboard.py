"""Leaderboards as data: records -> validated files -> tables -> comparisons against a baseline.

Used by the pytest plugin and by the ``robustprune`` command line; imports neither torch nor
pytest. The schema is described in docs/records.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from tabulate import tabulate

SCHEMA = 1
"""Version of the leaderboard file and of each record; bumped on incompatible changes."""

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

METRIC_ALIASES: dict[str, str] = {"prune_potential": "nominal_pp"}
LOWER_IS_BETTER: frozenset[str] = frozenset({"gap", "excess_error_slope"})
NULLABLE_METRICS: frozenset[str] = frozenset({"similarity"})

COLUMN_TITLES: dict[str, str] = {
    "nominal_pp": "nominal PP",
    "shifted_pp_mean": "shifted PP mean",
    "shifted_pp_min": "shifted PP min",
    "gap": "gap",
    "excess_error_slope": "excess-err. slope",
    "flop_reduction_at_pp": "FLOP red. at PP",
    "similarity": "similarity",
}
PERCENT_METRICS: frozenset[str] = frozenset(SUMMARY_METRICS) - {"excess_error_slope"}

Key = tuple[str, str, str, str]
KEY_FIELDS: tuple[str, ...] = ("suite", "dataset", "arch", "method")


class LeaderboardError(ValueError):
    """A leaderboard file or record that does not follow the schema, or cannot be read."""


# --------------------------------------------------------------------------- validation


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


def validate_record(record: Any, path: str = "record") -> None:
    """Raise LeaderboardError naming the first field of ``record`` that breaks schema 1."""
    _dict(record, path, RECORD_FIELDS)
    if record["schema"] != SCHEMA:
        raise LeaderboardError(f"{path}.schema: expected {SCHEMA}, got {record['schema']!r}")
    for name in KEY_FIELDS:
        _typed(record[name], str, "a string", f"{path}.{name}")
        if not record[name]:
            raise LeaderboardError(f"{path}.{name}: expected a non-empty string, got ''")
    for name in ("structured", "data_informed"):
        _typed(record[name], bool, "true or false", f"{path}.{name}")
    for index, seed in enumerate(_list(record["seeds"], f"{path}.seeds")):
        _typed(seed, int, "an integer", f"{path}.seeds[{index}]")
    _number(record["delta"], f"{path}.delta")
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
    for name in SUMMARY_METRICS:
        if summary[name] is None and name in NULLABLE_METRICS:
            continue
        _stat(summary[name], f"{path}.summary.{name}")
    _dict(record["thresholds"], f"{path}.thresholds")
    _per_distribution(record["timings"], f"{path}.timings", _number)
    _dict(record["artifacts"], f"{path}.artifacts")
    _dict(record["environment"], f"{path}.environment")


def validate_leaderboard(leaderboard: Any) -> None:
    """Raise LeaderboardError naming the first field that breaks schema 1, or a duplicate key."""
    _dict(leaderboard, "leaderboard", ("schema", "created", "environment", "records"))
    if leaderboard["schema"] != SCHEMA:
        raise LeaderboardError(f"schema: expected {SCHEMA}, got {leaderboard['schema']!r}")
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


# --------------------------------------------------------------------------- building and files


def record_key(record: dict[str, Any]) -> Key:
    """``(suite, dataset, arch, method)``: a leaderboard holds at most one record per key."""
    return tuple(str(record[name]) for name in KEY_FIELDS)  # type: ignore[return-value]


def canonical_metric(name: str) -> str:
    """Resolve aliases (``prune_potential`` -> ``nominal_pp``); raise ValueError if unknown."""
    resolved = METRIC_ALIASES.get(name, name)
    if resolved not in SUMMARY_METRICS:
        choices = ", ".join([*SUMMARY_METRICS, *METRIC_ALIASES])
        raise ValueError(f"unknown metric {name!r}; valid metrics: {choices}")
    return resolved


def environment_info(**extra: Any) -> dict[str, Any]:
    """Versions and platform for a leaderboard file (reads package metadata; imports no torch)."""

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    info: dict[str, Any] = {
        "robustprune": version("robustprune"),
        "torch": version("torch"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    info.update(extra)
    return info


def make_leaderboard(
    records: Iterable[dict[str, Any]],
    environment: dict[str, Any] | None = None,
    created: str | None = None,
) -> dict[str, Any]:
    """A schema-1 leaderboard with ``records`` sorted by key; a later duplicate key replaces."""
    by_key = {record_key(record): record for record in records}
    return {
        "schema": SCHEMA,
        "created": created or datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment if environment is not None else environment_info(),
        "records": [by_key[key] for key in sorted(by_key)],
    }


def load_leaderboard(path: str | Path) -> dict[str, Any]:
    """Read and validate a leaderboard file; errors name the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LeaderboardError(f"leaderboard file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardError(f"leaderboard file {str(path)!r} cannot be read: {error}") from None
    try:
        leaderboard = json.loads(text)
    except json.JSONDecodeError as error:
        raise LeaderboardError(
            f"leaderboard file {str(path)!r} is not valid JSON: {error}"
        ) from None
    try:
        validate_leaderboard(leaderboard)
    except LeaderboardError as error:
        raise LeaderboardError(f"leaderboard file {str(path)!r}: {error}") from None
    return leaderboard


def _write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def dumps(leaderboard: dict[str, Any]) -> str:
    """The canonical JSON text of a leaderboard (strict JSON: no NaN)."""
    return json.dumps(leaderboard, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_leaderboard(leaderboard: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Validate, then write leaderboard.json, .md and .csv into ``out_dir``; return the paths."""
    validate_leaderboard(leaderboard)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "leaderboard.json": dumps(leaderboard),
        "leaderboard.md": render_markdown(leaderboard),
        "leaderboard.csv": render_csv(leaderboard),
    }
    paths = []
    for name, text in outputs.items():
        _write_atomic(out_dir / name, text)
        paths.append(out_dir / name)
    return paths


# --------------------------------------------------------------------------- tables


def format_stat(stat: dict[str, float] | None, metric: str) -> str:
    """``"82.5 ± 3.5"`` (percent) for ratios, ``"0.023 ± 0.004"`` for the slope, ``"—"`` for null."""
    if stat is None:
        return "—"
    if metric in PERCENT_METRICS:
        return f"{100 * stat['mean']:.1f} ± {100 * stat['std']:.1f}"
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def _header(metric: str) -> str:
    return COLUMN_TITLES[metric] + (" %" if metric in PERCENT_METRICS else "")


def group_tables(leaderboard: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """One ``(title, headers, rows)`` per (suite, dataset, arch); rows are methods, sorted."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in leaderboard["records"]:
        groups.setdefault(record_key(record)[:3], []).append(record)
    headers = ["method", *(_header(metric) for metric in SUMMARY_METRICS)]
    tables = []
    for (suite, dataset, arch), records in sorted(groups.items()):
        rows = [
            [record["method"], *(format_stat(record["summary"][m], m) for m in SUMMARY_METRICS)]
            for record in sorted(records, key=lambda record: record["method"])
        ]
        tables.append((f"suite {suite} · dataset {dataset} · arch {arch}", headers, rows))
    return tables


def render_text(leaderboard: dict[str, Any]) -> str:
    """Plain-text tables for a terminal, one per (suite, dataset, arch)."""
    parts = [
        f"{title}\n{tabulate(rows, headers, tablefmt='simple', disable_numparse=True)}"
        for title, headers, rows in group_tables(leaderboard)
    ]
    return "\n\n".join(parts) + "\n" if parts else "(no records)\n"


def render_markdown(leaderboard: dict[str, Any]) -> str:
    """A Markdown document: a heading and a pipe table per (suite, dataset, arch)."""
    lines = ["# robustprune leaderboard", ""]
    environment = leaderboard.get("environment", {})
    described = ", ".join(f"{name} {value}" for name, value in environment.items() if value)
    lines += [f"Created {leaderboard['created']}" + (f"; {described}." if described else "."), ""]
    lines += [
        "PP = prune potential (largest prune ratio within δ of the parent's error), mean ± std "
        "over seeds; gap = nominal PP − mean shifted PP; lower is better for gap and slope.",
        "",
    ]
    for title, headers, rows in group_tables(leaderboard):
        table = tabulate(rows, headers, tablefmt="github", disable_numparse=True)
        lines += [f"## {title}", "", table, ""]
    return "\n".join(lines)


def render_csv(leaderboard: dict[str, Any]) -> str:
    """One row per record: the key, then ``<metric>_mean`` and ``<metric>_std`` as raw fractions."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [*KEY_FIELDS, *(f"{m}_{part}" for m in SUMMARY_METRICS for part in ("mean", "std"))]
    )
    for record in leaderboard["records"]:
        values = []
        for metric in SUMMARY_METRICS:
            stat = record["summary"][metric]
            values += ["", ""] if stat is None else [repr(stat["mean"]), repr(stat["std"])]
        writer.writerow([*record_key(record), *values])
    return buffer.getvalue()


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Gate:
    """Fail when ``metric`` regresses by more than ``tolerance`` (same unit as the metric)."""

    metric: str
    tolerance: float


def parse_gate(text: str) -> Gate:
    """Parse ``METRIC:TOL`` (e.g. ``prune_potential:0.05``); raise ValueError naming the problem."""
    metric, separator, tolerance = text.rpartition(":")
    if not separator or not metric:
        raise ValueError(f"gate {text!r} is not METRIC:TOL (e.g. prune_potential:0.05)")
    try:
        value = float(tolerance)
    except ValueError:
        raise ValueError(f"gate {text!r}: tolerance {tolerance!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"gate {text!r}: tolerance must be a finite number >= 0, got {value}")
    return Gate(canonical_metric(metric), value)


@dataclass(frozen=True)
class Change:
    """One metric of one case that differs between baseline and current (means only)."""

    key: Key
    metric: str
    baseline: float
    current: float

    @property
    def delta(self) -> float:
        return self.current - self.baseline

    @property
    def worsening(self) -> float:
        """How much worse current is than baseline (negative for an improvement)."""
        return self.delta if self.metric in LOWER_IS_BETTER else -self.delta

    @property
    def regression(self) -> bool:
        return self.worsening > 0


@dataclass
class Comparison:
    """Differences between two leaderboards, matched by key."""

    changes: list[Change] = field(default_factory=list)
    missing: list[Key] = field(default_factory=list)
    """Keys in the baseline that the current run did not produce (e.g. deselected cases)."""
    new: list[Key] = field(default_factory=list)
    """Keys in the current run that the baseline lacks."""
    unchanged: int = 0
    """Number of (key, metric) pairs compared and found equal."""

    @property
    def regressions(self) -> list[Change]:
        return [change for change in self.changes if change.regression]

    @property
    def improvements(self) -> list[Change]:
        return [change for change in self.changes if not change.regression]

    def failures(self, gates: Sequence[Gate]) -> list[tuple[Gate, Change]]:
        """Each regression worse than a gate's tolerance on that gate's metric."""
        return [
            (gate, change)
            for gate in gates
            for change in self.regressions
            if change.metric == gate.metric and change.worsening > gate.tolerance + 1e-12
        ]


def compare(
    baseline: dict[str, Any], current: dict[str, Any], metrics: Sequence[str] = SUMMARY_METRICS
) -> Comparison:
    """Compare the summary means of matching records; a null on either side is skipped."""
    old = {record_key(record): record for record in baseline["records"]}
    now = {record_key(record): record for record in current["records"]}
    comparison = Comparison(
        missing=sorted(old.keys() - now.keys()), new=sorted(now.keys() - old.keys())
    )
    for key in sorted(old.keys() & now.keys()):
        for metric in metrics:
            before, after = old[key]["summary"].get(metric), now[key]["summary"].get(metric)
            if before is None or after is None:
                continue
            if before["mean"] == after["mean"]:
                comparison.unchanged += 1
            else:
                comparison.changes.append(Change(key, metric, before["mean"], after["mean"]))
    return comparison


def _value(metric: str, value: float) -> str:
    return f"{100 * value:.1f}%" if metric in PERCENT_METRICS else f"{value:.4f}"


def _delta(metric: str, value: float) -> str:
    return f"{100 * value:+.1f} pp" if metric in PERCENT_METRICS else f"{value:+.4f}"


def render_comparison(comparison: Comparison, gates: Sequence[Gate] = ()) -> str:
    """A table of regressions then improvements, plus missing/new cases and failed gates."""
    failed = {id(change) for _, change in comparison.failures(gates)}
    ordered = sorted(comparison.regressions, key=lambda c: -c.worsening) + sorted(
        comparison.improvements, key=lambda c: c.worsening
    )
    rows = [
        [
            "/".join(change.key),
            change.metric,
            _value(change.metric, change.baseline),
            _value(change.metric, change.current),
            _delta(change.metric, change.delta),
            ("REGRESSION" if change.regression else "improvement")
            + (" (gate failed)" if id(change) in failed else ""),
        ]
        for change in ordered
    ]
    lines = [
        f"{len(comparison.regressions)} regression(s), {len(comparison.improvements)} "
        f"improvement(s), {comparison.unchanged} unchanged metric(s)"
    ]
    if rows:
        headers = ["case", "metric", "baseline", "current", "delta", "status"]
        lines.append(tabulate(rows, headers, tablefmt="simple", disable_numparse=True))
    if comparison.missing:
        lines.append("not in this run: " + ", ".join("/".join(key) for key in comparison.missing))
    if comparison.new:
        lines.append("not in the baseline: " + ", ".join("/".join(key) for key in comparison.new))
    for gate, change in comparison.failures(gates):
        lines.append(
            f"gate {gate.metric}:{gate.tolerance:g} failed for {'/'.join(change.key)}: "
            f"{_value(change.metric, change.baseline)} -> {_value(change.metric, change.current)}"
            f" ({_delta(change.metric, change.delta)})"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- examples


def example_record(
    method: str = "WT",
    arch: str = "resnet20",
    dataset: str = "digits",
    suite: str = "digits",
    nominal_pp: Sequence[float] = (0.85, 0.8),
    shifted_pp: Sequence[float] | None = None,
    slope: Sequence[float] | None = None,
) -> dict[str, Any]:
    """A small, valid, self-consistent schema-1 record (one value per seed) for tests and docs.

    ``shifted_pp`` defaults to nominal - 0.4 per seed, ``slope`` to 0.02, 0.025, ...
    """
    seeds = list(range(len(nominal_pp)))
    if shifted_pp is None:
        shifted_pp = [max(0.0, value - 0.4) for value in nominal_pp]
    if slope is None:
        slope = [0.02 + 0.005 * seed for seed in seeds]
    shift = "corruption:gaussian_noise:3"

    def stat(values: Sequence[float], ci: bool = False) -> dict[str, Any]:
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
        out: dict[str, Any] = {"values": list(values), "mean": mean, "std": std}
        return out | ({"ci": [min(values), max(values)]} if ci else {})

    def summary(values: Sequence[float]) -> dict[str, float]:
        return {"mean": stat(values)["mean"], "std": stat(values)["std"]}

    gap = [n - s for n, s in zip(nominal_pp, shifted_pp, strict=True)]
    flops = [0.8 * n for n in nominal_pp]
    curve = [
        [
            {"target_ratio": ratio, "prune_ratio": ratio, "flop_reduction": 0.8 * ratio,
             "accuracy": {"nominal": 0.98 - ratio / 10, shift: 0.9 - ratio / 5},
             "loss": {"nominal": 0.07 + ratio / 10, shift: 0.3 + ratio / 5}}
            for ratio in (0.2, 0.5, 0.8)
        ]
        for _ in seeds
    ]  # fmt: skip
    return {
        "schema": SCHEMA, "suite": suite, "dataset": dataset, "arch": arch, "method": method,
        "structured": method in {"FT", "PFP"}, "data_informed": method in {"SiPP", "PFP"},
        "seeds": seeds, "delta": 0.005, "distributions": ["nominal", shift],
        "shift_sources": {shift: "generated"},
        "parent": {
            "nominal": {"accuracy": [0.98] * len(seeds), "loss": [0.07] * len(seeds)},
            shift: {"accuracy": [0.9] * len(seeds), "loss": [0.3] * len(seeds)},
        },
        "curve": curve,
        "prune_potential": {"nominal": stat(nominal_pp, ci=True), shift: stat(shifted_pp, ci=True)},
        "flop_reduction_at_pp": {"nominal": stat(flops), shift: stat([0.8 * s for s in shifted_pp])},
        "excess_error": {"ratios": [0.2, 0.5, 0.8],
                         "values": [[0.0, s / 2, s] for s in slope], "slope": stat(slope)},
        "similarity": None,
        "summary": {
            "nominal_pp": summary(nominal_pp), "shifted_pp_mean": summary(shifted_pp),
            "shifted_pp_min": summary(shifted_pp), "gap": summary(gap),
            "excess_error_slope": summary(slope), "flop_reduction_at_pp": summary(flops),
            "similarity": None,
        },
        "thresholds": {"nominal_pp": 0.5, "shifted_pp": {shift: 0.1}, "excess_error_slope_max": 0.2},
        "timings": {"parent_s": 1.5, "curve_s": 4.0, "evaluation_s": 0.5},
        "artifacts": {"parent": ["computed"] * len(seeds), "curve": ["loaded"] * len(seeds)},
        "environment": {"device": "cpu"},
    }  # fmt: skip
