"""The benchmark's work as Ray tasks: units, the task function, artifact transfer.

``pytest benchmarks/ --rp-ray ADDRESS`` (robustprune.plugin.ray_run drives it) cuts a run into
units, each one Ray task that calls the same :class:`robustprune.harness.CaseRunner` code a
``-n 0`` run calls:

========================  ==============================================  ==================
unit                      what it builds (artifact kinds)                 depends on
========================  ==============================================  ==================
``shifts``                the suite's generated shifted test sets (shift) —
``parent`` (arch, seed)   one trained parent (parent)                     —
``parent_eval`` (a, s)    the parent on every distribution (evaluation)   parent, shifts
``curve`` (a, m, s)       Algorithm 1's prune steps (prune_step)          parent
``case`` (arch, method)   evaluations, cost, latency, similarity, ...     all of the above
========================  ==============================================  ==================

Artifacts go through the artifact store either way. ``shared``: every task opens the driver's
store path (a shared filesystem) and the store's file locks keep one builder per key.
``driver``: a task builds into a temporary store of its own (:class:`TaskStore`) and sends the
files of each artifact to the :class:`DriverStore` actor on the driver's node the moment it is
built; the actor verifies them and imports them into the driver's store
(:meth:`ArtifactStore.import_files`), so a killed driver keeps every finished step of a curve
that was still running. A task also returns the files of every artifact it built or used, as
its second return value, which Ray hands to dependent tasks as arguments (the driver never
fetches them). An artifact a task needs that neither its inputs nor its own store hold is
looked up in the driver's store through the same actor, so a rerun (after a killed driver, say)
or a retried task loads it instead of computing it.

Ray is imported lazily: robustprune works without it (``pip install robustprune[ray]``).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from robustprune.cache import Artifact, ArtifactStore, CorruptArtifactError

Files = dict[tuple[str, str], tuple[bytes, bytes]]
"""``(kind, key) -> (tensor file bytes, sidecar bytes)``, as ArtifactStore.export_files gives."""


class Unit(NamedTuple):
    """One piece of a Ray run's work: ``Unit("shifts")``, ``Unit("parent", arch, seed=s)``,
    ``Unit("parent_eval", arch, seed=s)``, ``Unit("curve", arch, method, s)`` or
    ``Unit("case", arch, method)``; a field the kind does not use is None."""

    kind: str
    arch: str | None = None
    method: str | None = None
    seed: int | None = None

    @property
    def label(self) -> str:
        """``curve tinynet/WT seed 0``: how progress lines and errors name a unit."""
        if self.kind in ("parent", "parent_eval"):
            return f"{self.kind} {self.arch} seed {self.seed}"
        if self.kind == "curve":
            return f"curve {self.arch}/{self.method} seed {self.seed}"
        if self.kind == "case":
            return f"case {self.arch}/{self.method}"
        return self.kind


MAX_RETRIES = 3
"""Ray re-runs a task this many times when its worker process or node dies (not on errors)."""


def unit_plan(cases: list[Any], seeds: tuple[int, ...]) -> dict[Unit, tuple[Unit, ...]]:
    """Every unit ``cases`` need, each once, with the units it depends on (dependencies first)."""
    plan: dict[Unit, tuple[Unit, ...]] = {}
    shifts = Unit("shifts")
    if cases:
        plan[shifts] = ()
    for case in cases:
        parents = [Unit("parent", case.arch, seed=seed) for seed in seeds]
        parent_evals = [Unit("parent_eval", case.arch, seed=seed) for seed in seeds]
        curves = [Unit("curve", case.arch, case.method, seed) for seed in seeds]
        for parent, parent_eval, curve in zip(parents, parent_evals, curves, strict=True):
            plan.setdefault(parent, ())
            plan.setdefault(parent_eval, (parent, shifts))
            plan.setdefault(curve, (parent,))
        plan[Unit("case", case.arch, case.method)] = (shifts, *parents, *parent_evals, *curves)
    return plan


@dataclass
class Job:
    """What a task needs besides its inputs: the unit, the suite, where data and artifacts are."""

    unit: Unit
    suite: Any
    case: Any | None
    pruners: dict[str, type]
    """The pruner classes the unit may use by name (conftest ones travel by value)."""
    data_root: str | None
    store_root: str | None
    """The shared store's path; None in driver mode (a temporary store per task)."""
    threads: int = 1
    """The driver's ``benchmark_threads()``: tasks use as many torch threads as -n 0 would."""


@dataclass
class UnitResult:
    """What a task returns first: a few facts about the unit (its files are the second return)."""

    unit: Unit
    info: dict[str, Any] = field(default_factory=dict)
    """``origin``/``seconds`` of a parent or curve, ``result`` (the CaseResult) of a case,
    ``skip`` (why) when the dataset is missing."""


class DriverStore:
    """A Ray actor on the driver's node: the driver's store, for tasks that cannot open it."""

    def __init__(self, root: str) -> None:
        self.store = ArtifactStore(root)

    def fetch(self, kind: str, key: str) -> tuple[bytes, bytes] | None:
        """An artifact's raw files, or None when the driver's store does not hold it."""
        return self.store.export_files(kind, key)

    def put(self, kind: str, key: str, tensors: bytes, sidecar: bytes) -> bool:
        """Verify and store an artifact a task built (an intact stored copy is kept)."""
        return self.store.import_files(kind, key, tensors, sidecar)


class TaskStore(ArtifactStore):
    """A task's own temporary store (driver mode) that also reads inputs and the driver's store.

    A lookup tries, in order, this store, the files its inputs carried and the driver's store
    (through the DriverStore actor); everything found outside this store is verified like a
    read and kept in :attr:`loaded`. What it builds lives in this store and is sent to the
    driver's store as soon as it is built.
    """

    def __init__(self, root: str | Path, inputs: Files, driver: Any) -> None:
        super().__init__(root)
        self.inputs, self.driver = inputs, driver
        self.loaded: Files = {}

    def get_or_create(self, kind: str, key_fields: dict[str, Any], build: Any) -> Artifact:
        artifact = super().get_or_create(kind, key_fields, build)
        if artifact.computed:  # in the driver's store before the task goes on
            import ray

            files = self.export_files(kind, artifact.key)
            assert files is not None  # written by the get_or_create above
            ray.get(self.driver.put.remote(kind, artifact.key, *files))
        return artifact

    def _try_read(self, kind: str, key: str, key_fields: dict[str, Any]):
        found, problem = super()._try_read(kind, key, key_fields)
        if found is not None or problem is not None:
            return found, problem
        files = self.loaded.get((kind, key)) or self.inputs.get((kind, key))
        if files is None:
            import ray

            files = ray.get(self.driver.fetch.remote(kind, key))
        if files is None:
            return None, None
        try:
            artifact: Artifact = self.verify_files(kind, key, *files)
        except CorruptArtifactError:
            return None, None  # built here instead; the driver's import keeps its own copy
        self.loaded[(kind, key)] = files
        return artifact, None


def _registry(pruners: dict[str, type]) -> Any:
    """The default pruner registry (entry points loaded) plus the shipped classes."""
    from robustprune.extensions import GROUPS, load_extensions

    for kind in GROUPS:
        load_extensions(kind)  # pruners, models, datasets, shifts and recipes of installed packages
    registry = load_extensions("pruners")
    known = set(registry.names())
    for name, cls in pruners.items():
        if name not in known:
            registry.register(cls, origin=f"{cls.__module__} (shipped by the Ray driver)")
    return registry


def run_unit(job: Job, driver: Any | None, *inputs: UnitResult | Files) -> tuple[UnitResult, Files]:
    """The body of every task: build (or load) one unit with the harness, like ``-n 0`` does.

    ``driver`` is the DriverStore actor (None with a shared store); ``inputs`` are the two
    return values (UnitResult, Files) of every unit this one depends on, in turn. Returns this
    unit's UnitResult and the files of every artifact it built or used (driver mode, not for a
    case: nothing depends on one), for its dependents.
    """
    from robustprune.data import DatasetNotFoundError

    given: tuple[UnitResult, ...] = inputs[0::2]  # type: ignore[assignment]
    for result in given:
        if "skip" in result.info:
            return UnitResult(job.unit, {"skip": result.info["skip"]}), {}
    from robustprune.device import THREADS_ENV, configure_worker

    os.environ[THREADS_ENV] = str(job.threads)
    device = configure_worker()  # one torch thread (ROBUSTPRUNE_THREADS): -n 0's numbers
    if job.store_root is not None:
        return _build(job, ArtifactStore(job.store_root), device, given), {}
    carried: Files = {}
    for files in inputs[1::2]:
        carried.update(files)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="robustprune-task-") as folder:
        store = TaskStore(folder, carried, driver)
        try:
            result = _build(job, store, device, given)
        except DatasetNotFoundError as error:
            return UnitResult(job.unit, {"skip": str(error)}), {}
        if job.unit.kind == "case":
            return result, {}
        files = dict(store.loaded)
        for kind, key in store.artifacts():
            exported = store.export_files(kind, key)
            if exported is not None:
                files[(kind, key)] = exported
        return result, files


def _build(
    job: Job, store: ArtifactStore, device: Any, inputs: tuple[UnitResult, ...]
) -> UnitResult:
    from robustprune.data import DatasetNotFoundError
    from robustprune.harness import CaseRunner

    runner = CaseRunner(job.suite, store, device, job.data_root, registry=_registry(job.pruners))
    unit = job.unit
    try:
        if unit.kind == "shifts":
            runner.distributions  # noqa: B018 - generates and stores the shifted test sets
            return UnitResult(unit)
        if unit.kind == "parent":
            parent = runner.parent(unit.arch, unit.seed)
            return UnitResult(unit, {"origin": parent.origin, "seconds": parent.seconds})
        if unit.kind == "parent_eval":
            runner.evaluate_all(runner.parent(unit.arch, unit.seed).model)
            return UnitResult(unit)
        if unit.kind == "curve":
            curve = runner.curve(unit.arch, unit.method, unit.seed)
            return UnitResult(unit, {"origin": curve.origin, "seconds": curve.seconds})
        if unit.kind == "case":
            facts = {given.unit: given.info for given in inputs}
            arch, method, seeds = unit.arch, unit.method, job.suite.seeds
            parents = [
                _as_built(runner.parent(arch, s), facts.get(Unit("parent", arch, seed=s)))
                for s in seeds
            ]
            curves = [
                _as_built(runner.curve(arch, method, s), facts.get(Unit("curve", arch, method, s)))
                for s in seeds
            ]
            return UnitResult(unit, {"result": runner.run(job.case, parents, curves)})
    except DatasetNotFoundError as error:
        return UnitResult(unit, {"skip": str(error)})
    raise ValueError(f"unknown unit {unit!r}")


def _as_built(value: Any, info: dict[str, Any] | None) -> Any:
    """A Parent or Curve with the origin and time of the task that built it (as -n 0 reports)."""
    if not info or "origin" not in info:
        return value
    return dataclasses.replace(value, origin=info["origin"], seconds=info["seconds"])


def ship_by_value(classes: list[type]) -> None:
    """Let cloudpickle send classes from conftest modules (not importable on workers) by value."""
    import sys

    from ray import cloudpickle

    for cls in classes:
        module = cls.__module__
        if module == "conftest" or module.endswith(".conftest") or module == "__main__":
            if module in sys.modules and module != "__main__":
                cloudpickle.register_pickle_by_value(sys.modules[module])
