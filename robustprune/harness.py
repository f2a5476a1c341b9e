"""One benchmark case from start to finish: parent -> curve -> evaluation, every step cached.

:class:`CaseRunner` is what the pytest fixtures call, and it is usable without pytest::

    runner = CaseRunner(load_suite("digits"), ArtifactStore(), device="cpu")
    record = build_record(runner.run(case))

Every expensive artifact (trained parent, each prune-retrain step, each evaluation) lives in
the artifact store, so whichever process asks first computes it and a warm rerun only reads.
"""

from __future__ import annotations

import importlib.metadata
import math
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robustprune.cache import (
    ArtifactStore,
    architecture_fingerprint,
    masks_fingerprint,
    model_fingerprint,
)
from robustprune.data import load_dataset
from robustprune.data.core import dataset_loader
from robustprune.data.shifts import mix1_training_set, shifted_test_set
from robustprune.data.shifts.registry import dataset_shift_entry, get_corruption, get_shift
from robustprune.device import channels_last
from robustprune.distributions import NOMINAL
from robustprune.identity import (
    builtin_digest,
    code_identity,
    data_digest,
    images_digest,
    provenance,
    registered_provenance,
)
from robustprune.leaderboard import environment_info
from robustprune.machine import machine_class, machine_key
from robustprune.metrics import (
    cross_confidence,
    flop_reduction,
    flops,
    noise_similarities,
)
from robustprune.metrics.latency import BATCH_SIZES, REPEATS, WARMUP, compare_latency
from robustprune.metrics.similarity import noisy_logits
from robustprune.models import create, model_info
from robustprune.models.registry import TIMM_PREFIX
from robustprune.phases import phase
from robustprune.pipeline import prune_curve
from robustprune.pruning import ENTRY_POINT_GROUP, compact, default_registry, parameter_count
from robustprune.recipes import get_recipe
from robustprune.results import (
    CaseResult,
    Curve,
    Measurement,
    Measurements,
    Parent,
    PointResult,
    SeedResult,
)
from robustprune.suite import TRAIN_MIXES, Case, Suite
from robustprune.train import ENGINE_VERSION, engine_digest, evaluate, normalize_batch, train

Progress = Callable[[str], None]
EVALUATION_VERSION = 2
EVALUATIONS_KEPT = 32
"""Evaluations a runner keeps in memory (the parents' are read again by every method)."""
LATENCY_VERSION = 1
"""Part of every latency artifact's key; bump when what is measured or stored changes."""


def _quiet(_: str) -> None:
    """The default progress sink: say nothing."""


class CaseRunner:
    """Builds (or loads) parents, prune curves and evaluations for the cases of one suite."""

    def __init__(
        self,
        suite: Suite,
        store: ArtifactStore,
        device: torch.device | str = "cpu",
        data_root: str | Path | None = None,
        progress: Progress | None = None,
        registry=None,
    ) -> None:
        self.suite, self.store, self.device = suite, store, torch.device(device)
        self.data_root, self.say = data_root, progress or _quiet
        self._registry = registry
        self._parents: dict[tuple[str, int], Parent] = {}
        self._curves: dict[tuple[str, str, int], Curve] = {}
        self._noisy_parents: dict[str, list[list[torch.Tensor]]] = {}
        self._evaluations: dict[str, Measurements] = {}
        self._parent_macs: dict[str, int] = {}

    @property
    def registry(self):
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    @cached_property
    def data(self):
        """The suite's dataset on the device (raises DatasetNotFoundError when it is missing)."""

        with phase("data loading", arch=""):
            data = load_dataset(self.suite.dataset, root=self.data_root)
            return data.to(self.device) if len(data.train) <= 100_000 else data

    @cached_property
    def train_set(self):
        """The parents' training images: the nominal train split, or the suite's robust mix."""
        if self.suite.train_mix is None:
            return self.data.train

        if self.suite.train_mix not in TRAIN_MIXES:
            raise ValueError(
                f"{self.suite.path}: unknown train_mix {self.suite.train_mix!r}; "
                f"valid: {', '.join(map(repr, TRAIN_MIXES))}"
            )
        return mix1_training_set(self.data.train, seed=0)

    @cached_property
    def distributions(self) -> dict[str, tuple[Any, str]]:
        """Test sets by distribution name: the nominal test split, then every shift (with its source)."""

        sets = {NOMINAL: (self.data.test, "nominal")}
        with phase("shifted sets", arch=""):
            for name in self.suite.shifts:
                images, source = shifted_test_set(
                    self.data, name, seed=0, root=self.data_root, store=self.store
                )
                on_device = images.to(self.device) if hasattr(images, "images") else images
                sets[name] = (on_device, source)
        return sets

    @cached_property
    def data_digest(self) -> str:
        """A digest of what the dataset loader returned (every split, normalization)."""
        return data_digest(self.data)

    @cached_property
    def engine_code(self) -> dict[str, str]:
        """The code that trains and evaluates (and mixes the robust training set, if used)."""
        code = {"engine": engine_digest()}
        if self.suite.train_mix is not None:
            code["train_mix"] = builtin_digest(mix1_training_set.__module__)
        return code

    def model_code(self, arch: str, model: nn.Module) -> dict[str, Any]:
        """What builds ``arch``: its constructor's and its class's code identity, or timm's
        version for ``timm:<name>``."""
        if arch.startswith(TIMM_PREFIX):
            return {"timm": environment_version("timm"), "class": code_identity(type(model))}
        return {
            "constructor": code_identity(model_info(arch).constructor),
            "class": code_identity(type(model)),
        }

    def plugins(self, arch: str, method: str) -> list[dict[str, Any]]:
        """The plugins the case (``arch``, ``method``) runs (pruner, model, dataset, shifts): kind,
        name, module, distribution, version and source digest of each; built-ins are not listed."""
        name = self.suite.pruner_spec(method).pruner
        found = [provenance("pruner", name, self.registry.get(name))]
        if not arch.startswith(TIMM_PREFIX):
            found.append(provenance("model", arch, model_info(arch).constructor))
        found.append(provenance("dataset", self.suite.dataset, dataset_loader(self.suite.dataset)))
        for name in self.suite.shifts:
            shift = get_shift(name)
            if shift.kind == "corruption":
                function = get_corruption(shift.corruption).function
            elif shift.kind == "dataset":
                function = dataset_shift_entry(shift.name).loader
            else:
                continue
            found.append(provenance("shift", shift.name, function))
        return [entry for entry in found if entry is not None]

    def model_shape(self) -> dict[str, Any]:
        return {
            "num_classes": self.data.num_classes,
            "in_channels": self.data.in_channels,
            "input_size": list(self.data.input_size),
        }

    def new_model(self, arch: str) -> nn.Module:

        shape = self.model_shape()
        return create(arch, shape["num_classes"], shape["in_channels"], tuple(shape["input_size"]))

    def parent(self, arch: str, seed: int) -> Parent:
        """The trained parent for ``arch`` and ``seed`` (trained once, then from the store)."""
        if (arch, seed) in self._parents:
            return self._parents[(arch, seed)]

        recipe = get_recipe(self.suite.train_recipe(arch))
        blank = self.new_model(arch)
        key = {
            "dataset": self.suite.dataset,
            "data": self.data_digest,
            "train_mix": self.suite.train_mix,
            "arch": arch,
            "architecture": architecture_fingerprint(blank),
            "model_code": self.model_code(arch, blank),
            "shape": self.model_shape(),
            "recipe": recipe.to_dict(),
            "seed": seed,
            "engine": ENGINE_VERSION,
            "code": self.engine_code,
            "machine": machine_key(self.device),
        }
        started = time.perf_counter()

        def build():
            self.say(
                f"training parent {self.suite.dataset}/{arch} seed {seed} ({recipe.epochs} epochs)"
            )
            torch.manual_seed(seed)
            model = self.new_model(arch)
            with phase("parent training"):
                train(
                    model,
                    self.data,
                    recipe,
                    seed,
                    self.device,
                    train_set=self.train_set,
                    progress=lambda line: self.say(f"parent {arch} seed {seed}: {line}"),
                    context=f"parent {self.suite.dataset}/{arch} seed {seed}",
                )
            return dict(model.state_dict()), {"arch": arch, "seed": seed}

        with phase("parent (other)", arch=arch):
            artifact = self.store.get_or_create("parent", key, build)
        if not artifact.computed:
            self.say(f"reusing cached parent {self.suite.dataset}/{arch} seed {seed}")
        model = self.new_model(arch)
        model.load_state_dict(artifact.tensors)
        model.to(self.device).eval()
        result = Parent(model, artifact.key, artifact.origin, time.perf_counter() - started)
        self._parents[(arch, seed)] = result
        return result

    def curve(self, arch: str, method: str, seed: int) -> Curve:
        """Algorithm 1's curve for one seed (each step computed once, then from the store)."""
        if (arch, method, seed) in self._curves:
            return self._curves[(arch, method, seed)]

        parent = self.parent(arch, seed)
        spec = self.suite.pruner_spec(method)
        pruner = spec.create(self.registry, self.suite.path)
        started = time.perf_counter()
        with phase("prune step: rest", arch=arch):
            points = prune_curve(
                parent.model,
                self.data,
                pruner,
                list(self.suite.grid),
                get_recipe(self.suite.retrain_recipe(arch)),
                seed,
                self.device,
                store=self.store,
                parent_key=parent.key,
                mode=self.suite.mode,
                progress=lambda line: self.say(f"{arch}/{method} seed {seed}: {line}"),
                context=f"{self.suite.dataset}/{arch}/{method} seed {seed}",
                arguments=spec.arguments,
            )
        computed = {point.computed for point in points}
        origin = "computed" if computed == {True} else "loaded" if computed == {False} else "mixed"
        curve = Curve(points, origin, time.perf_counter() - started)
        self._curves[(arch, method, seed)] = curve
        return curve

    def flop_reduction(self, model: nn.Module, parent: nn.Module) -> float:
        """1 - FLOPs(model) / FLOPs(parent) at the dataset's input size (cached per model pair)."""

        key = {
            "model": model_fingerprint(model),
            "parent": model_fingerprint(parent),
            "input": [self.data.in_channels, *self.data.input_size],
            "version": EVALUATION_VERSION,
            "code": builtin_digest(flop_reduction.__module__),
        }

        def build():
            parent_key = model_fingerprint(parent)
            if parent_key not in self._parent_macs:  # the latest parent's, for its pruned nets
                self._parent_macs = {
                    parent_key: flops(
                        parent, self.data.input_size, self.data.in_channels, self.device
                    )
                }
            value = flop_reduction(
                model,
                parent,
                input_size=self.data.input_size,
                in_channels=self.data.in_channels,
                device=self.device,
                parent_macs=self._parent_macs[parent_key],
            )
            return {}, {"flop_reduction": value}

        with phase("FLOP count"):
            return self.store.get_or_create("cost", key, build).meta["flop_reduction"]

    def latency(self, parent: nn.Module, model: nn.Module, masks: dict) -> dict[str, Any]:
        """Median latency of ``parent`` vs ``model`` compacted (pruning.compact), cached.

        Measured on the run's device with this process's torch threads, at the batch sizes of
        ``metrics.latency`` (1 and 64); the key names the hardware, so another machine measures
        again. Returns ``compare_latency``'s fields plus parameter counts and its own cost.
        """

        shape = [self.data.in_channels, *self.data.input_size]
        environment = environment_info()
        key = {
            "parent": model_fingerprint(parent),
            "model": model_fingerprint(model),
            "masks": masks_fingerprint(masks),
            "input": shape,
            "batch_sizes": list(BATCH_SIZES),
            "repeats": REPEATS,
            "warmup": WARMUP,
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "hardware": environment.get("gpu" if self.device.type == "cuda" else "cpu"),
            "torch": environment["torch"],
            "version": LATENCY_VERSION,
            "code": [
                builtin_digest(compare_latency.__module__),
                builtin_digest(compact.__module__),
            ],
        }

        def build():
            started = time.perf_counter()
            generator = torch.Generator().manual_seed(0)
            example = torch.randn(2, *shape, generator=generator).to(self.device)
            small = compact(model, masks, example)
            compacted = time.perf_counter()
            measured = compare_latency(parent, small, shape)
            measured["parameters"] = {
                "parent": parameter_count(parent),
                "compacted": parameter_count(small),
            }
            measured["cost_s"] = {
                "compact": compacted - started,
                "measure": time.perf_counter() - compacted,
            }
            return {}, measured

        with phase("latency"):
            return self.store.get_or_create("latency", key, build).meta

    def latency_at_pp(self, parent: nn.Module, nominal_pp: float, points: list) -> dict[str, Any]:
        """The latency block of one seed: parent vs the compacted net at the nominal PP.

        At PP 0 (no pruned net within delta) the compacted parent is timed against the parent:
        a speedup near 1 that shows the measurement's noise.
        """
        chosen = next((p for p in points if math.isclose(p.prune_ratio, nominal_pp)), None)
        if chosen is None:
            measured = self.latency(parent, parent, {})
        else:
            measured = self.latency(parent, chosen.model, chosen.masks)
        return {"prune_ratio": nominal_pp if chosen is not None else 0.0, **measured}

    def evaluate_all(self, model: nn.Module) -> Measurements:
        """Accuracy, loss and per-example correctness of ``model`` on every distribution.

        One artifact per network holds every distribution; the latest few are also kept in
        memory, so the parents' evaluations are read once for all methods of an architecture.
        """
        fingerprint = model_fingerprint(model)
        if fingerprint in self._evaluations:  # the most recently used stay
            self._evaluations[fingerprint] = self._evaluations.pop(fingerprint)
            return self._evaluations[fingerprint]
        key = {
            "model": fingerprint,
            "dataset": self.suite.dataset,
            "distributions": {
                name: images_digest(images) for name, (images, _) in self.distributions.items()
            },
            "version": EVALUATION_VERSION,
            "code": self.engine_code["engine"],
        }

        def build():
            tensors, meta = {}, {}
            for name, (images, _) in self.distributions.items():
                outcome = evaluate(model, images, self.data, self.device)
                correct = (
                    outcome.correct
                    if outcome.correct is not None
                    else torch.zeros(0, dtype=torch.bool)
                )
                tensors[name] = correct.to(torch.uint8)
                meta[name] = {"accuracy": outcome.accuracy, "loss": outcome.loss}
            return tensors, meta

        with phase("evaluation: accuracy and loss"):
            artifact = self.store.get_or_create("evaluation", key, build)
        results = {
            name: Measurement(
                accuracy=artifact.meta[name]["accuracy"],
                loss=artifact.meta[name]["loss"],
                correct=artifact.tensors[name].bool(),
            )
            for name in self.distributions
        }
        while len(self._evaluations) >= EVALUATIONS_KEPT:
            del self._evaluations[next(iter(self._evaluations))]
        self._evaluations[fingerprint] = results
        return results

    def similarity(
        self, parent: nn.Module, reference: nn.Module | None, points: list
    ) -> dict[str, Any] | None:
        """Noise similarity to the parent for pruned nets at a few ratios and a separately trained parent."""
        if not self.suite.similarity or not points:
            return None

        chosen = _spread(points, 3)
        common = {
            "parent": model_fingerprint(parent),
            "draws": self.suite.similarity_draws,
            "version": EVALUATION_VERSION,
            "images": images_digest(self.data.test),
            "code": builtin_digest(noise_similarities.__module__),
            "layout": builtin_digest(channels_last.__module__),  # batched_logits runs in it
        }

        def build(model: nn.Module):
            inputs, labels = self.similarity_inputs()
            measured = noise_similarities(
                {"model": model},
                parent,
                inputs,
                labels,
                draws=self.suite.similarity_draws,
                seed=0,
                device=self.device,
                reference_logits=self.noisy_parent_logits(parent),
            )
            return {}, measured["model"].to_dict()

        def measure(model: nn.Module) -> dict[str, Any]:
            # one artifact per network: the separately trained parent's is shared by the methods
            key = {**common, "model": model_fingerprint(model)}
            return self.store.get_or_create("similarity", key, lambda: build(model)).meta

        with phase("similarity"):
            by_ratio = {point.prune_ratio: measure(point.model) for point in chosen}
            separate = measure(reference) if reference is not None else None
        return {
            "eps": next(iter(by_ratio.values()))["eps"],
            "ratios": [round(p.prune_ratio, 4) for p in chosen],
            "agreement": {ratio: result["agreement"] for ratio, result in by_ratio.items()},
            "softmax_l2": {ratio: result["softmax_l2"] for ratio, result in by_ratio.items()},
            "reference": None
            if separate is None
            else {"agreement": separate["agreement"], "softmax_l2": separate["softmax_l2"]},
        }

    def similarity_inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The normalized test images noise similarity perturbs, and their labels (None for
        segmentation masks)."""
        images, labels = self.data.test.batch(torch.arange(len(self.data.test)), self.device)
        inputs = normalize_batch(images, self.data.mean, self.data.std)
        return inputs, labels if labels.dim() == 1 else None

    def noisy_parent_logits(self, parent: nn.Module) -> list[list[torch.Tensor]]:
        """The parent's logits on every noisy input of the similarity measurement, computed once
        per parent and kept for the suite's seeds' parents (the methods of one architecture)."""
        fingerprint = model_fingerprint(parent)
        if fingerprint not in self._noisy_parents:
            while len(self._noisy_parents) >= len(self.suite.seeds):
                del self._noisy_parents[next(iter(self._noisy_parents))]
            self._noisy_parents[fingerprint] = noisy_logits(
                parent,
                self.similarity_inputs()[0],
                draws=self.suite.similarity_draws,
                seed=0,
                device=self.device,
            )
        return self._noisy_parents[fingerprint]

    def features(
        self, parent: nn.Module, reference: nn.Module | None, points: list
    ) -> dict[str, Any] | None:
        """Informative-features cross-confidence of the parent, pruned nets and a separate parent."""
        if not self.suite.features or not points:
            return None

        subjects = {"parent": parent}
        subjects.update({f"pruned {p.prune_ratio:.0%}": p.model for p in _spread(points, 3)})
        if reference is not None:
            subjects["separate parent"] = reference
        count = min(self.suite.features_images, len(self.data.test))
        key = {
            "models": {label: model_fingerprint(model) for label, model in subjects.items()},
            "images": count,
            "fraction": self.suite.features_fraction,
            "version": EVALUATION_VERSION,
            "test_set": images_digest(self.data.test),
            "code": builtin_digest(cross_confidence.__module__),
        }

        def build():
            self.say(
                f"informative features: backward selection for {len(subjects)} networks on {count} images"
            )
            images, labels = self.data.test.batch(torch.arange(count), self.device)
            matrix = cross_confidence(
                subjects,
                normalize_batch(images, self.data.mean, self.data.std),
                labels,
                fraction=self.suite.features_fraction,
                device=self.device,
            )
            values = [[float(v) for v in row] for row in matrix.values]
            return {}, {
                "models": list(matrix.names),
                "cross_confidence": values,
                "fraction": self.suite.features_fraction,
                "images": count,
            }

        with phase("features"):
            return self.store.get_or_create("features", key, build).meta

    def run(
        self,
        case: Case,
        parents: list[Parent] | None = None,
        curves: list[Curve] | None = None,
    ) -> CaseResult:
        """Measure ``case``: its parents and curves (one per seed) on every distribution.

        ``parents`` and ``curves`` are what the fixtures built, in the order of the suite's
        seeds; without them they are built (or loaded) here.
        """
        spec = self.suite.pruner_spec(case.method)
        pruner_cls = self.registry.get(spec.pruner)
        if parents is None:
            parents = [self.parent(case.arch, seed) for seed in self.suite.seeds]
        if curves is None:
            curves = [self.curve(case.arch, case.method, seed) for seed in self.suite.seeds]
        seeds = []
        with phase("evaluation: other", arch=case.arch):
            for index, seed in enumerate(self.suite.seeds):
                parent, curve = parents[index].model, curves[index]
                points = curve.points
                started = time.perf_counter()
                parent_eval = self.evaluate_all(parent)
                rows = [
                    PointResult(
                        target_ratio=point.target_ratio,
                        prune_ratio=point.prune_ratio,
                        flop_reduction=self.flop_reduction(point.model, parent),
                        evaluation=self.evaluate_all(point.model),
                    )
                    for point in points
                ]
                reference = None
                if len(parents) > 1:  # the next seed's parent: an independently trained network
                    reference = parents[(index + 1) % len(parents)].model
                result = SeedResult(
                    seed=seed,
                    parent_eval=parent_eval,
                    points=rows,
                    origins={"parent": parents[index].origin, "curve": curve.origin},
                )
                latency_s = 0.0
                if pruner_cls.structured:
                    measuring = time.perf_counter()
                    nominal_pp = result.prune_potential(NOMINAL, self.suite.delta)
                    result.latency = self.latency_at_pp(parent, nominal_pp, points)
                    latency_s = time.perf_counter() - measuring
                result.similarity = self.similarity(parent, reference, points)
                if seed == self.suite.seeds[0]:
                    result.features = self.features(parent, reference, points)
                result.timings = {
                    "parent_s": parents[index].seconds,
                    "curve_s": curve.seconds,
                    "evaluation_s": time.perf_counter() - started - latency_s,
                    "latency_s": latency_s,
                }
                seeds.append(result)
        return CaseResult(
            case=case,
            seeds=seeds,
            shift_sources={
                name: source for name, (_, source) in self.distributions.items() if name != NOMINAL
            },
            structured=bool(pruner_cls.structured),
            data_informed=bool(pruner_cls.data_informed),
            num_classes=self.data.num_classes,
            environment=environment_info(
                device=str(self.device),
                threads=torch.get_num_threads(),
                machine_class=machine_class(self.device),
                plugins=self.plugins(case.arch, case.method),
                pruner=registered_provenance(
                    self.registry.origin(spec.pruner), pruner_cls, ENTRY_POINT_GROUP
                ),
            ),
        )


def _spread(points: list, count: int) -> list:
    """``count`` points spread evenly over a curve (first, middle, last...)."""
    if len(points) <= count:
        return list(points)
    step = (len(points) - 1) / (count - 1)
    return [points[round(i * step)] for i in range(count)]


def environment_version(package: str) -> str | None:
    """The installed version of ``package``, or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
