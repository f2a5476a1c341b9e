"""What the harness hands on: typed values from the fixtures to the record.

``CaseRunner.parent`` gives a :class:`Parent`, ``CaseRunner.curve`` a :class:`Curve`;
``CaseRunner.run`` measures them into a :class:`CaseResult` (one :class:`SeedResult` per seed,
each network's :class:`Measurement` per distribution), which ``robustprune.record`` turns
into the leaderboard's plain-JSON record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from robustprune.pipeline import CurvePoint
    from robustprune.suite import Case


@dataclass(frozen=True)
class Parent:
    """A trained parent network and where it came from."""

    model: nn.Module
    key: str
    """Its artifact key (the curves' keys include it)."""
    origin: str
    """``"computed"`` or ``"loaded"`` (from the artifact store)."""
    seconds: float


@dataclass(frozen=True)
class Curve:
    """Algorithm 1's prune-retrain curve of one (architecture, method, seed)."""

    points: list[CurvePoint]
    """One point (pruned network, masks, achieved ratio) per prune ratio of the grid, in order."""
    origin: str
    """``"computed"``, ``"loaded"`` or ``"mixed"`` (some steps were in the store)."""
    seconds: float


@dataclass(frozen=True)
class Measurement:
    """One network on one test set: top-1 accuracy (mean IoU for segmentation) and mean loss,
    both over the whole set (what ``robustprune.train.evaluate`` returns)."""

    accuracy: float
    loss: float
    correct: torch.Tensor | None = None
    """Per test example, whether the prediction was right (bool, on CPU); empty (harness) or
    None (``evaluate``) for segmentation."""
    logits: torch.Tensor | None = None
    """N x classes on CPU, when ``evaluate`` was asked to keep them."""

    @property
    def error(self) -> float:
        """1 - accuracy (for segmentation: 1 - mean IoU)."""
        return 1.0 - self.accuracy


Measurements = dict[str, Measurement]
"""One network on every distribution: name (``nominal``, ``corruption:fog:3``, ...) ->
measurement."""

Evaluation = Measurements
"""The old name of :data:`Measurements`."""


@dataclass(frozen=True)
class PointResult:
    """One pruned network of a curve, measured."""

    target_ratio: float
    """The grid's prune ratio."""
    prune_ratio: float
    """The ratio achieved (dead structure included)."""
    flop_reduction: float
    evaluation: Measurements


@dataclass
class SeedResult:
    """Everything measured for one seed of a case."""

    seed: int
    parent_eval: Measurements
    points: list[PointResult]
    similarity: dict[str, Any] | None = None
    """Noise similarity to the parent, curves keyed by prune ratio as a number
    (``CaseRunner.similarity``; the record writes the keys as text)."""
    features: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    latency: dict[str, Any] | None = None
    """Structured methods: the parent against the compacted network at the nominal PP."""

    def prune_potential(self, distribution: str, delta: float) -> float:
        """The largest prune ratio of the curve whose top-1 error on ``distribution`` is within
        ``delta`` of the parent's (``robustprune.metrics.prune_potential``); 0 if none is."""
        from robustprune.metrics import prune_potential

        ratios = [row.prune_ratio for row in self.points]
        errors = [1 - row.evaluation[distribution].accuracy for row in self.points]
        return prune_potential(ratios, errors, 1 - self.parent_eval[distribution].accuracy, delta)


@dataclass
class CaseResult:
    """A case's per-seed results plus what the record needs to say about the run."""

    case: Case
    seeds: list[SeedResult]
    shift_sources: dict[str, str]
    structured: bool
    data_informed: bool
    environment: dict[str, Any] = field(default_factory=dict)
    num_classes: int | None = None
    """The dataset's classes: chance (1 / num_classes) flags degenerate shifts in the record."""
