"""Benchmark suites as data: a TOML file declares what to prune, how, and what must hold.

A suite names one dataset, its architectures, the pruning methods (default: every registered
pruner), training and retrain recipes, the prune-ratio grid, the shifts, delta, the seeds and
the thresholds. ``load_suite("digits")`` reads ``benchmarks/suites/digits.toml``;
``load_suite(path)`` reads any file. Validation names the file, the field, the bad value and
the valid choices.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUITES_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "suites"


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file, the field and the problem."""


@dataclass(frozen=True)
class Thresholds:
    """What a case must reach: prune potentials are ratios in [0, 1]; slope is error per unit ratio."""

    nominal_pp: float = 0.0
    shifted_pp: dict[str, float] = field(default_factory=dict)
    shifted_pp_default: float = 0.0
    excess_error_slope_max: float = math.inf

    def for_shift(self, shift: str) -> float:
        """The prune-potential threshold of one shift."""
        return self.shifted_pp.get(shift, self.shifted_pp_default)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form used in records (an infinite bound becomes null)."""
        slope = self.excess_error_slope_max
        return {
            "nominal_pp": self.nominal_pp,
            "shifted_pp": dict(self.shifted_pp),
            "shifted_pp_default": self.shifted_pp_default,
            "excess_error_slope_max": None if math.isinf(slope) else slope,
        }


@dataclass(frozen=True)
class Case:
    """One benchmark case: a method pruning one architecture of the suite, over all its seeds."""

    suite: Suite
    arch: str
    method: str
    smoke: bool

    @property
    def id(self) -> str:
        """Readable pytest id, e.g. ``digits-resnet20-WT``."""
        return f"{self.suite.name}-{self.arch}-{self.method}"

    @property
    def group(self) -> str:
        """xdist loadgroup: every case of one parent population runs on one worker."""
        return f"{self.suite.name}-{self.arch}"


@dataclass(frozen=True)
class Suite:
    """A parsed, validated suite file."""

    name: str
    path: Path
    dataset: str
    archs: tuple[str, ...]
    methods: tuple[str, ...]  # empty: every registered pruner
    seeds: tuple[int, ...]
    delta: float
    train_recipes: dict[str, str]  # arch -> recipe name
    retrain_recipes: dict[str, str]
    grid: tuple[float, ...]
    mode: str
    shifts: tuple[str, ...]
    train_mix: str | None
    similarity: bool
    similarity_draws: int
    features: bool
    features_images: int
    features_fraction: float
    thresholds: Thresholds
    method_thresholds: dict[str, Thresholds]
    smoke_archs: tuple[str, ...]
    smoke_methods: tuple[str, ...]
    paper: bool
    gpu: bool = False
    description: str = ""

    def cases(self, registered_methods: list[str]) -> list[Case]:
        """All cases in a stable order: architectures as listed, methods sorted."""
        methods = list(self.methods) or sorted(registered_methods)
        unknown = [m for m in methods if m not in registered_methods]
        if unknown:
            raise SuiteError(
                f"{self.path}: methods {unknown} are not registered pruners; "
                f"valid: {sorted(registered_methods)}"
            )
        return [
            Case(self, arch, method, arch in self.smoke_archs and method in self.smoke_methods)
            for arch in self.archs
            for method in methods
        ]

    def thresholds_for(self, method: str) -> Thresholds:
        """The suite's thresholds, with ``[thresholds.methods.<method>]`` overrides applied."""
        return self.method_thresholds.get(method, self.thresholds)

    def train_recipe(self, arch: str) -> str:
        return self.train_recipes[arch]

    def retrain_recipe(self, arch: str) -> str:
        return self.retrain_recipes[arch]

    def with_seeds(self, count: int) -> Suite:
        """The same suite with ``count`` seeds (0..count-1), e.g. from ``--rp-seeds``."""
        from dataclasses import replace

        if count < 1:
            raise SuiteError(f"seed count must be >= 1, got {count}")
        return replace(self, seeds=tuple(range(count)))


def list_suites() -> list[str]:
    """Names of the suites shipped in ``benchmarks/suites``."""
    return sorted(path.stem for path in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """Read a suite by name (``benchmarks/suites/<name>.toml``) or by path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SUITES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise SuiteError(
                f"unknown suite {str(name_or_path)!r}; valid suites: {list_suites()}, or a path to a .toml file"
            )
    if not path.exists():
        raise SuiteError(f"suite file {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{path}: not valid TOML: {error}") from error
    return parse_suite(raw, path)


def parse_suite(raw: dict[str, Any], path: Path) -> Suite:
    """Validate the TOML structure of a suite and build a :class:`Suite`."""
    reader = _Reader(raw, path)
    archs = tuple(reader.list_of("archs", str))
    if not archs:
        raise SuiteError(f"{path}: 'archs' must list at least one architecture")
    seeds = reader.get("seeds", int, 1)
    if seeds < 1:
        raise SuiteError(f"{path}: 'seeds' must be >= 1, got {seeds}")
    mode = reader.get("mode", str, "iterative")
    if mode not in ("iterative", "one-shot"):
        raise SuiteError(f"{path}: 'mode' is {mode!r}; valid: 'iterative', 'one-shot'")
    smoke = raw.get("smoke", {})
    threshold_table = raw.get("thresholds", {})
    suite = Suite(
        name=reader.get("name", str, path.stem),
        path=path,
        dataset=reader.get("dataset", str),
        archs=archs,
        methods=tuple(reader.list_of("methods", str, [])),
        seeds=tuple(range(seeds)),
        delta=reader.get("delta", float, 0.005),
        train_recipes=_per_arch(reader, "train_recipe", archs),
        retrain_recipes=_per_arch(reader, "retrain_recipe", archs),
        grid=_grid(raw.get("grid", {}), path),
        mode=mode,
        shifts=tuple(reader.list_of("shifts", str, [])),
        train_mix=reader.get("train_mix", str, None),
        similarity=reader.get("similarity", bool, False),
        similarity_draws=reader.get("similarity_draws", int, 4),
        features=reader.get("features", bool, False),
        features_images=reader.get("features_images", int, 32),
        features_fraction=reader.get("features_fraction", float, 0.05),
        thresholds=_thresholds(threshold_table, path),
        method_thresholds={
            method: _thresholds({**threshold_table, **table}, path)
            for method, table in threshold_table.get("methods", {}).items()
        },
        smoke_archs=tuple(smoke.get("archs", archs[:1])),
        smoke_methods=tuple(smoke.get("methods", [])),
        paper=reader.get("paper", bool, False),
        gpu=reader.get("gpu", bool, False),
        description=reader.get("description", str, ""),
    )
    return suite


def _thresholds(table: dict[str, Any], path: Path) -> Thresholds:
    """``nominal_pp``, ``shifted_pp`` (a number or a table shift -> number), ``excess_error_slope_max``."""
    known = {"nominal_pp", "shifted_pp", "excess_error_slope_max", "methods"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SuiteError(f"{path}: unknown threshold key(s) {unknown}; valid: {sorted(known)}")
    shifted = table.get("shifted_pp", 0.0)
    return Thresholds(
        nominal_pp=float(table.get("nominal_pp", 0.0)),
        shifted_pp=dict(shifted) if isinstance(shifted, dict) else {},
        shifted_pp_default=0.0 if isinstance(shifted, dict) else float(shifted),
        excess_error_slope_max=float(table.get("excess_error_slope_max", math.inf)),
    )


def validate_suite(suite: Suite, registered_methods: list[str]) -> None:
    """Check every name in ``suite`` against its registry; the error lists the valid names."""
    from robustprune.data import list_datasets
    from robustprune.data.shifts import check_dataset_shifts, get_shift
    from robustprune.models import list_models
    from robustprune.recipes import get_recipe

    where = f"{suite.path}"
    if suite.dataset not in list_datasets():
        raise SuiteError(f"{where}: unknown dataset {suite.dataset!r}; valid: {list_datasets()}")
    models = list_models()
    for arch in suite.archs:
        if arch not in models and not arch.startswith("timm:"):
            raise SuiteError(
                f"{where}: unknown architecture {arch!r}; valid: {models} or timm:<name>"
            )
    for recipe in {*suite.train_recipes.values(), *suite.retrain_recipes.values()}:
        try:
            get_recipe(recipe)
        except KeyError as error:
            raise SuiteError(f"{where}: {error.args[0]}") from None
    for shift in suite.shifts:
        try:
            get_shift(shift)
        except (KeyError, ValueError) as error:
            raise SuiteError(f"{where}: {error.args[0]}") from None
    try:  # no corruption may leave the dataset's images unchanged (docs/shifts.md)
        check_dataset_shifts(suite.shifts, suite.dataset)
    except ValueError as error:
        raise SuiteError(f"{where}: {error}") from None
    suite.cases(registered_methods)  # raises on unknown methods


def _grid(table: dict[str, Any], path: Path) -> tuple[float, ...]:
    """Target prune ratios: explicit ``ratios``, or ``count`` geometric steps in keep ratio."""
    if "ratios" in table:
        ratios = [float(r) for r in table["ratios"]]
    else:
        first, last, count = (
            table.get("first", 0.2),
            table.get("last", 0.97),
            table.get("count", 16),
        )
        keep_first, keep_last = 1 - first, 1 - last
        ratios = [
            1 - keep_first * (keep_last / keep_first) ** (i / max(count - 1, 1))
            for i in range(count)
        ]
    if not ratios or any(not 0 < r < 1 for r in ratios) or sorted(ratios) != ratios:
        raise SuiteError(f"{path}: grid must be increasing prune ratios in (0, 1), got {ratios}")
    return tuple(round(r, 6) for r in ratios)


def _per_arch(reader: _Reader, key: str, archs: tuple[str, ...]) -> dict[str, str]:
    value = reader.raw.get(key)
    if isinstance(value, str):
        return {arch: value for arch in archs}
    if isinstance(value, dict):
        missing = [arch for arch in archs if arch not in value and "default" not in value]
        if missing:
            raise SuiteError(
                f"{reader.path}: '{key}' has no recipe for {missing} (and no 'default')"
            )
        return {arch: value.get(arch, value.get("default")) for arch in archs}
    raise SuiteError(f"{reader.path}: '{key}' must be a recipe name or a table arch -> recipe name")


class _Reader:
    """Typed access to the top-level keys of a suite file, with errors naming file and key."""

    def __init__(self, raw: dict[str, Any], path: Path) -> None:
        self.raw, self.path = raw, path

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        if key not in self.raw:
            if default is ...:
                raise SuiteError(f"{self.path}: required key '{key}' is missing")
            return default
        value = self.raw[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SuiteError(f"{self.path}: '{key}' must be {kind.__name__}, got {value!r}")
        return value

    def list_of(self, key: str, kind: type, default: Any = ...) -> list[Any]:
        value = self.get(key, list, default)
        bad = [item for item in value if not isinstance(item, kind)]
        if bad:
            raise SuiteError(f"{self.path}: '{key}' must list {kind.__name__} values, got {bad}")
        return value
