"""Benchmark suites as data: a TOML file declares what to prune, how, and what must hold.

A suite names one dataset, its architectures, the pruning methods (default: every registered
pruner), training and retrain recipes, the prune-ratio grid, the shifts, delta, the seeds and
the thresholds. ``load_suite("digits")`` reads ``robustprune/suites/digits.toml``;
``load_suite(path)`` reads any file. Validation names the file, the field, the bad value and
the valid choices.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustprune.methods import default_methods
from robustprune.paths import name_problem
from robustprune.registry import UnknownNameError
from robustprune.suite_pruners import MethodSpec, check_labels, parse_pruner_tables
from robustprune.suite_reader import TOP, SuiteError, TableReader, did_you_mean

__all__ = ["Case", "Suite", "SuiteError", "Thresholds", "list_suites", "load_suite"]

SUITES_DIR = Path(__file__).resolve().parent / "suites"
"""The suites shipped with the package (package data)."""

TOP_KEYS = frozenset(
    {
        "name", "description", "dataset", "archs", "methods", "seeds", "delta",
        "train_recipe", "retrain_recipe", "mode", "shifts", "train_mix", "similarity",
        "similarity_draws", "features", "features_images", "features_fraction", "paper", "gpu",
        "grid", "thresholds", "smoke", "pruners",
    }
)  # fmt: skip
GRID_KEYS = frozenset({"ratios", "first", "last", "count"})
THRESHOLD_KEYS = frozenset({"nominal_pp", "shifted_pp", "excess_error_slope_max"})
SMOKE_KEYS = frozenset({"archs", "methods"})
MODES = ("iterative", "one-shot")
TRAIN_MIXES = ("mix1",)


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

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Thresholds:
        """The thresholds a record's ``thresholds`` holds (:meth:`to_dict` read back)."""
        slope = values["excess_error_slope_max"]
        return cls(
            nominal_pp=values["nominal_pp"],
            shifted_pp=dict(values["shifted_pp"]),
            shifted_pp_default=values["shifted_pp_default"],
            excess_error_slope_max=math.inf if slope is None else slope,
        )


@dataclass(frozen=True)
class Case:
    """One benchmark case: a method pruning one architecture of the suite, over all its seeds."""

    suite: Suite
    arch: str
    method: str
    smoke: bool

    @property
    def id(self) -> str:
        """Readable pytest id, e.g. ``digits-resnet20-WT`` (:func:`case_id`)."""
        return case_id(self.suite.name, self.arch, self.method)

    @property
    def group(self) -> str:
        """xdist loadgroup: every case of one parent population runs on one worker."""
        return group_id(self.suite.name, self.arch)


def group_id(suite: str, arch: str) -> str:
    """The group of an architecture's cases, ``<suite>-<arch>`` (``digits-resnet20``)."""
    return f"{suite}-{arch}"


def case_id(suite: str, arch: str, method: str) -> str:
    """A case's id, ``<group>-<method>`` (``digits-resnet20-WT``); method labels hold no
    ``-``, so :func:`case_group_of` can read the group back."""
    return f"{group_id(suite, arch)}-{method}"


def case_group_of(case_id: str) -> str | None:
    """The group (:func:`group_id`) of a case id written by :func:`case_id`: everything
    before the last ``-``; None for an id of another form."""
    if case_id.count("-") < 2:
        return None
    return case_id.rsplit("-", 1)[0]


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
    pruners: dict[str, MethodSpec] = field(default_factory=dict)  # label -> [pruners.<label>]

    def method_names(self, registered_methods: list[str]) -> list[str]:
        """The suite's method labels: ``methods`` as listed, else every registered pruner but
        the ready-made ones (``robustprune.methods.default_methods``) and every
        ``[pruners.<label>]``, sorted."""
        return list(self.methods) or sorted({*default_methods(registered_methods), *self.pruners})

    def pruner_spec(self, method: str) -> MethodSpec:
        """What the method label ``method`` runs: its ``[pruners.<label>]`` table, else the
        registered pruner of that name without arguments."""
        return self.pruners.get(method) or MethodSpec(method, method)

    def cases(self, registered_methods: list[str]) -> list[Case]:
        """All cases in a stable order: architectures as listed, methods as listed (sorted
        when the suite lists none)."""
        check_labels(self.pruners, registered_methods, self.path)
        methods = self.method_names(registered_methods)
        unknown = [m for m in methods if m not in registered_methods and m not in self.pruners]
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

    def with_seeds(self, seeds: int | tuple[int, ...]) -> Suite:
        """The same suite with other seeds: a count N (seeds 0..N-1) or explicit seeds, e.g.
        from ``--rp-seeds`` (held-out seeds for claims: ``--rp-seeds 100-104``)."""
        from dataclasses import replace

        return replace(self, seeds=seed_tuple(seeds, "the seeds"))


MAX_SEEDS = 1000
"""Most seeds one suite or run may ask for (each is a parent trained per architecture)."""

MAX_SEED = 2**31 - 1
"""Largest seed value (torch's generators take any 64-bit value; records keep 32-bit ints)."""


def seed_tuple(seeds: int | list | tuple, where: str) -> tuple[int, ...]:
    """Seeds from a count N (0..N-1) or a list of distinct integers in [0, MAX_SEED].

    ``where`` names the setting in errors (a suite key or a command-line option)."""
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list, tuple)):
        raise SuiteError(f"{where}: expected a count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise SuiteError(f"{where}: the seed count must be in 1..{MAX_SEEDS}, got {seeds}")
        return tuple(range(seeds))
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int)]
    bad += [s for s in seeds if isinstance(s, int) and not 0 <= s <= MAX_SEED]
    if bad:
        raise SuiteError(f"{where}: seeds must be integers in 0..{MAX_SEED}, got {bad}")
    if not seeds or len(seeds) > MAX_SEEDS:
        raise SuiteError(f"{where}: list 1..{MAX_SEEDS} seeds, got {len(seeds)}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise SuiteError(f"{where}: seeds {repeated} are listed more than once")
    return tuple(seeds)


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds as written on the command line: ``N`` (0..N-1), ``A-B`` (A..B) or ``A,B,C``."""
    where = f"--rp-seeds {text!r}"
    text = text.strip()
    try:
        if re.fullmatch(r"\d+", text):
            return seed_tuple(int(text), where)
        if match := re.fullmatch(r"(\d+)\s*-\s*(\d+)", text):
            low, high = int(match[1]), int(match[2])
            if high < low or high - low >= MAX_SEEDS:
                raise SuiteError(f"{where}: a range A-B needs A <= B and at most {MAX_SEEDS} seeds")
            return seed_tuple(list(range(low, high + 1)), where)
        if re.fullmatch(r"\d+(\s*,\s*\d+)+", text):
            return seed_tuple([int(part) for part in text.split(",")], where)
    except SuiteError:
        raise
    raise SuiteError(
        f"{where}: expected a count N (seeds 0..N-1), a range A-B or a list A,B,C of "
        "non-negative integers"
    )


def list_suites() -> list[str]:
    """Names of the suites shipped in ``robustprune/suites``."""
    return sorted(path.stem for path in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """Read a suite by name (``robustprune/suites/<name>.toml``) or by path to a TOML file."""
    if not str(name_or_path).strip():
        raise SuiteError(
            f"the suite name is empty; valid suites: {list_suites()}, or a path to a .toml file"
        )
    path = Path(name_or_path)
    if path.is_dir():
        raise SuiteError(
            f"suite {str(name_or_path)!r} is a directory; pass a suite .toml file or one of "
            f"{list_suites()}"
        )
    if path.suffix != ".toml":
        path = SUITES_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise SuiteError(
                f"unknown suite {str(name_or_path)!r}; valid suites: {list_suites()}, or a path to a .toml file"
            )
    if not path.exists():
        raise SuiteError(f"suite file {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a BOM (Windows editors) is not TOML
    except UnicodeDecodeError as error:
        raise SuiteError(f"{path}: not UTF-8 text ({error}); save the suite as UTF-8") from None
    except OSError as error:
        raise SuiteError(f"{path}: cannot read the suite file: {error}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SuiteError(f"{path}: not valid TOML: {error}") from error
    return parse_suite(raw, path)


def parse_suite(raw: dict[str, Any], path: Path) -> Suite:
    """Validate every key and value of a suite's TOML structure and build a :class:`Suite`."""
    top = TableReader(raw, path, TOP, TOP_KEYS)
    name = top.get("name", str, path.stem)
    if not name.strip():
        raise top.fail("name", "must be a non-empty string (it starts every case id)")
    problem = name_problem(name)
    if problem is not None:
        raise top.fail(
            "name",
            f"{name[:60]!r}{'...' if len(name) > 60 else ''} {problem} (the name starts every "
            "case id and names the suite's run history folder), e.g. 'my_suite-v2'",
        )
    archs = tuple(top.names("archs", allow_empty=False))
    shifts = tuple(top.names("shifts", []))
    if not shifts:
        raise top.fail(
            "shifts",
            "must list at least one shift (`robustprune list shifts`): a suite measures "
            "prune potential beyond the nominal test set",
        )
    mode = top.get("mode", str, "iterative")
    if mode not in MODES:
        raise SuiteError(f"{path}: 'mode' is {mode!r}; valid: {', '.join(map(repr, MODES))}")
    train_mix = top.get("train_mix", str, None)
    if train_mix is not None and train_mix not in TRAIN_MIXES:
        raise SuiteError(
            f"{path}: unknown train_mix {train_mix!r}{did_you_mean(train_mix, TRAIN_MIXES)}; "
            f"valid: {', '.join(map(repr, TRAIN_MIXES))} (or leave it out)"
        )
    methods = tuple(top.names("methods", []))
    pruners = parse_pruner_tables(top, methods)
    thresholds, method_thresholds = _thresholds(top, shifts, methods)
    smoke = top.table("smoke", SMOKE_KEYS)
    smoke_archs = tuple(smoke.names("archs", list(archs[:1])))
    outside = [arch for arch in smoke_archs if arch not in archs]
    if outside:
        raise smoke.fail("archs", f"names {outside}, which are not in 'archs' {list(archs)}")
    return Suite(
        name=name,
        path=path,
        dataset=top.get("dataset", str),
        archs=archs,
        methods=methods,
        seeds=seed_tuple(top.raw.get("seeds", 1), f"{path}: 'seeds'"),
        delta=top.number("delta", 0.005, 0.0, 1.0, high_open=True),
        train_recipes=_per_arch(top, "train_recipe", archs),
        retrain_recipes=_per_arch(top, "retrain_recipe", archs),
        grid=_grid(top.table("grid", GRID_KEYS)),
        mode=mode,
        shifts=shifts,
        train_mix=train_mix,
        similarity=top.get("similarity", bool, False),
        similarity_draws=top.count("similarity_draws", 4),
        features=top.get("features", bool, False),
        features_images=top.count("features_images", 32),
        features_fraction=_fraction(top, "features_fraction", 0.05),
        thresholds=thresholds,
        method_thresholds=method_thresholds,
        smoke_archs=smoke_archs,
        smoke_methods=tuple(smoke.names("methods", [])),
        paper=top.get("paper", bool, False),
        gpu=top.get("gpu", bool, False),
        description=top.get("description", str, ""),
        pruners=pruners,
    )


def _fraction(reader: TableReader, key: str, default: float) -> float:
    value = reader.number(key, default, 0.0, 1.0)
    if value == 0:
        raise reader.fail(key, "must be in (0, 1], got 0")
    return value


def _thresholds(
    top: TableReader, shifts: tuple[str, ...], methods: tuple[str, ...]
) -> tuple[Thresholds, dict[str, Thresholds]]:
    """``[thresholds]`` and its ``[thresholds.methods.<method>]`` overrides."""
    table = top.table("thresholds", THRESHOLD_KEYS | {"methods"})
    suite_wide = _threshold_values(table, shifts, {})
    overrides = table.table("methods", set(methods) if methods else table.raw.get("methods", {}))
    per_method = {
        method: _threshold_values(overrides.table(method, THRESHOLD_KEYS), shifts, table.raw)
        for method in overrides.raw
    }
    return suite_wide, per_method


def _threshold_values(
    table: TableReader, shifts: tuple[str, ...], inherited: dict[str, Any]
) -> Thresholds:
    """``nominal_pp``, ``shifted_pp`` (a number or a table shift -> number), ``excess_error_slope_max``."""
    merged = TableReader(
        {k: v for k, v in {**inherited, **table.raw}.items() if k in THRESHOLD_KEYS},
        table.path,
        table.where,
        THRESHOLD_KEYS,
    )
    shifted = merged.raw.get("shifted_pp", 0.0)
    per_shift: dict[str, float] = {}
    if isinstance(shifted, dict):
        by_shift = merged.table("shifted_pp", shifts)
        per_shift = {shift: by_shift.number(shift, 0.0, 0.0, 1.0) for shift in by_shift.raw}
        default = 0.0
    else:
        default = merged.number("shifted_pp", 0.0, 0.0, 1.0)
    slope = merged.get("excess_error_slope_max", float, math.inf)
    if math.isnan(slope) or slope < 0:
        raise merged.fail("excess_error_slope_max", f"must be >= 0 (or inf), got {slope}")
    return Thresholds(
        nominal_pp=merged.number("nominal_pp", 0.0, 0.0, 1.0),
        shifted_pp=per_shift,
        shifted_pp_default=default,
        excess_error_slope_max=slope,
    )


def validate_suite(suite: Suite, registered_methods: list[str], pruners: Any = None) -> None:
    """Check every name in ``suite`` against its registry; the error lists the valid names.

    Each ``[pruners.<label>]`` class is built with its arguments from ``pruners`` (a pruner
    registry, default ``robustprune.pruning.default_registry()``), so arguments it does not take
    are refused here, before anything trains."""
    # imported here: the registries need torch, and the pytest plugin imports this module
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
    _check_timm_archs([arch for arch in suite.archs if arch.startswith("timm:")], where)
    for recipe in {*suite.train_recipes.values(), *suite.retrain_recipes.values()}:
        try:
            get_recipe(recipe)
        except UnknownNameError as error:
            raise SuiteError(f"{where}: {error}") from None
    spellings: dict[str, list[str]] = {}
    for shift in suite.shifts:
        try:
            spellings.setdefault(get_shift(shift).name, []).append(shift)
        except UnknownNameError as error:
            raise SuiteError(f"{where}: {error}") from None
    repeated = {canonical: names for canonical, names in spellings.items() if len(names) > 1}
    if repeated:
        canonical, names = next(iter(repeated.items()))
        raise SuiteError(
            f"{where}: 'shifts' lists {names}, which are one distribution ({canonical!r}); "
            "each shift may be listed once (a repeat weighs it more in the shifted mean)"
        )
    try:  # no corruption may leave the dataset's images unchanged (docs/shifts.md)
        check_dataset_shifts(suite.shifts, suite.dataset)
    except ValueError as error:
        raise SuiteError(f"{where}: {error}") from None
    cases = suite.cases(registered_methods)  # raises on unknown methods
    if suite.pruners:
        if pruners is None:
            from robustprune.pruning import default_registry

            pruners = default_registry()
        for spec in suite.pruners.values():
            spec.create(pruners, suite.path)
    methods = sorted({case.method for case in cases})
    for label, named in (
        ("[smoke] methods", suite.smoke_methods),
        ("[thresholds.methods]", tuple(suite.method_thresholds)),
    ):
        outside = [method for method in named if method not in methods]
        if outside:
            hint = did_you_mean(outside[0], methods)
            raise SuiteError(
                f"{where}: {label} names {outside}{hint}, which the suite does not run; "
                f"its methods: {methods}"
            )


def _check_timm_archs(archs: list[str], where: str) -> None:
    """Every ``timm:<name>`` names a timm model (timm is imported only when one is listed)."""
    if not archs:
        return
    import timm  # ~2.7 s, so only for suites with timm:<name> architectures

    for arch in archs:
        name = arch.removeprefix("timm:")
        if not timm.is_model(name):
            raise SuiteError(
                f"{where}: unknown timm model {name!r} in architecture {arch!r}"
                f"{did_you_mean(name, timm.list_models())}; valid: timm:<name> for a name "
                "in timm.list_models(), or one of `robustprune list models`"
            )


def geometric_grid(count: int, first: float, last: float) -> list[float]:
    """``count`` target prune ratios from ``first`` to ``last``, geometric in keep ratio.

    The keep ratio shrinks by the same factor at every step, so the grid is dense where the
    network gets small (the paper's grids are built this way).
    """
    keep_first, keep_last = 1 - first, 1 - last
    return [
        1 - keep_first * (keep_last / keep_first) ** (i / max(count - 1, 1)) for i in range(count)
    ]


def _grid(table: TableReader) -> tuple[float, ...]:
    """Target prune ratios: explicit ``ratios``, or ``count`` geometric steps in keep ratio."""
    if "ratios" in table:
        mixed = sorted((GRID_KEYS - {"ratios"}) & set(table.raw))
        if mixed:
            raise table.fail("ratios", f"cannot be combined with {mixed}; give one or the other")
        ratios = [table.check("ratios", r, float) for r in table.get("ratios", list)]
    else:
        first = table.number("first", 0.2, 0.0, 1.0, high_open=True)
        last = table.number("last", 0.97, 0.0, 1.0, high_open=True)
        count = table.count("count", 16)
        if count > 1 and last <= first:
            raise table.fail("last", f"must be greater than 'first' ({first}), got {last}")
        ratios = geometric_grid(count, first, last)
    rounded = [round(r, 6) for r in ratios]
    increasing = all(a < b for a, b in zip(rounded, rounded[1:], strict=False))
    if not ratios or any(not 0 < r < 1 for r in ratios) or not increasing:
        raise SuiteError(
            f"{table.path}: grid must be strictly increasing prune ratios in (0, 1) with no "
            f"repeats, got {ratios}"
        )
    return tuple(rounded)


def _per_arch(reader: TableReader, key: str, archs: tuple[str, ...]) -> dict[str, str]:
    """A recipe name for every architecture: one name, or a table ``arch -> name`` (+ ``default``)."""
    value = reader.raw.get(key)
    if isinstance(value, str):
        return {arch: value for arch in archs}
    if isinstance(value, dict):
        table = reader.table(key, {*archs, "default"})
        names = {arch: table.get(arch, str) for arch in table.raw}
        missing = [arch for arch in archs if arch not in names and "default" not in names]
        if missing:
            raise reader.fail(key, f"has no recipe for {missing} (and no 'default')")
        return {arch: names.get(arch, names.get("default")) for arch in archs}
    if value is None:
        raise SuiteError(f"{reader.path}: required key '{key}' is missing")
    raise reader.fail(key, f"must be a recipe name or a table arch -> recipe name, got {value!r}")
