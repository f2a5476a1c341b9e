"""Noise similarity: does a pruned network still answer like its parent inside a noise ball?

Uniform noise in [-eps, eps] is added to *normalized* inputs; both networks see the same noisy
input. Agreement is the fraction of inputs on which their top-1 labels match; the softmax
distance is the l2 norm of the difference of their softmax outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from robustprune.distributions import NOISE_BALL_EPS
from robustprune.metrics._torch import batched_logits, check_batch_size, check_images, evaluating

DEFAULT_EPSILONS: tuple[float, ...] = NOISE_BALL_EPS
"""The noise-ball radii, linspace(0, 0.7, 15): the levels a similarity curve is measured at."""


@dataclass(frozen=True)
class NoiseSimilarity:
    """Per-noise-level similarity of ``model`` to ``reference`` (lists aligned with ``eps``).

    ``agreement``: mean label agreement in [0, 1]; ``agreement_std``: its std over the noise
    draws. ``softmax_l2``: mean l2 distance of softmax outputs (in [0, sqrt(2)]);
    ``softmax_l2_std``: std over all (example, draw) pairs. ``accuracy`` / ``reference_accuracy``:
    top-1 accuracy under the same noise, present only when labels were given.
    """

    eps: list[float]
    agreement: list[float]
    agreement_std: list[float]
    softmax_l2: list[float]
    softmax_l2_std: list[float]
    accuracy: list[float] | None = None
    reference_accuracy: list[float] | None = None

    def to_dict(self) -> dict[str, list[float] | None]:
        """Plain JSON types, for records."""
        return {
            "eps": self.eps,
            "agreement": self.agreement,
            "agreement_std": self.agreement_std,
            "softmax_l2": self.softmax_l2,
            "softmax_l2_std": self.softmax_l2_std,
            "accuracy": self.accuracy,
            "reference_accuracy": self.reference_accuracy,
        }


def noise_similarity(
    model: nn.Module,
    reference: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor | None = None,
    eps: Sequence[float] = DEFAULT_EPSILONS,
    draws: int = 10,
    seed: int = 0,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> NoiseSimilarity:
    """Similarity of ``model`` to ``reference`` (usually the parent) under uniform input noise.

    ``inputs`` are normalized N×C×H×W; ``eps`` are noise half-widths in normalized units
    (default linspace(0, 0.7, 15)); ``draws`` noise draws per level, from a CPU generator
    seeded by ``seed`` and shared across levels (draw k at level eps is eps·U_k, U_k ~ U[-1, 1]).
    """
    return noise_similarities(
        {"model": model}, reference, inputs, labels, eps, draws, seed, batch_size, device
    )["model"]


def _checked_levels(inputs: torch.Tensor, eps: Sequence[float], draws: int, batch_size: int):
    check_images(inputs)
    check_batch_size(batch_size)
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    levels = [float(e) for e in eps]
    if not levels or any(not np.isfinite(e) or e < 0 for e in levels):
        raise ValueError(f"eps must be a non-empty sequence of noise levels >= 0, got {levels}")
    return levels


def _unit_noise(inputs: torch.Tensor, draws: int, seed: int) -> list[torch.Tensor]:
    """``draws`` tensors of U[-1, 1] noise shaped like ``inputs``, from a CPU generator."""
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype) * 2.0 - 1.0
        for _ in range(draws)
    ]


def noisy_logits(
    reference: nn.Module,
    inputs: torch.Tensor,
    eps: Sequence[float] = DEFAULT_EPSILONS,
    draws: int = 10,
    seed: int = 0,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> list[list[torch.Tensor]]:
    """The float logits of ``reference`` on every noisy input :func:`noise_similarities` makes
    (``[level][draw]``), to pass it as ``reference_logits`` when several calls share a reference."""
    levels = _checked_levels(inputs, eps, draws, batch_size)
    unit_noise, clean = _unit_noise(inputs, draws, seed), inputs.detach().cpu()
    with evaluating(reference, device) as target:
        return [
            [
                batched_logits(reference, clean + level * noise, batch_size, target).float()
                for noise in unit_noise
            ]
            for level in levels
        ]


def noise_similarities(
    models: Mapping[str, nn.Module],
    reference: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor | None = None,
    eps: Sequence[float] = DEFAULT_EPSILONS,
    draws: int = 10,
    seed: int = 0,
    batch_size: int = 512,
    device: torch.device | str | None = None,
    reference_logits: Sequence[Sequence[torch.Tensor]] | None = None,
) -> dict[str, NoiseSimilarity]:
    """:func:`noise_similarity` of several models to one reference, on the same noisy inputs.

    The reference runs once per noisy input instead of once per model; with
    ``reference_logits`` (what :func:`noisy_logits` returned for the same arguments) not at all.
    """
    levels = _checked_levels(inputs, eps, draws, batch_size)
    if labels is not None and labels.shape != (inputs.shape[0],):
        raise ValueError(f"labels must have shape ({inputs.shape[0]},), got {tuple(labels.shape)}")
    if reference_logits is not None and [len(row) for row in reference_logits] != [draws] * len(
        levels
    ):
        raise ValueError(
            f"reference_logits must hold {len(levels)} levels x {draws} draws of logits, got "
            f"{[len(row) for row in reference_logits]} (noisy_logits with the same eps and draws)"
        )

    unit_noise = _unit_noise(inputs, draws, seed)
    clean = inputs.detach().cpu()
    shape = (len(levels), draws)
    tallies = {
        name: {
            "agreement": np.zeros(shape),
            "accuracy": np.zeros(shape),
            "distances": [[] for _ in levels],
        }
        for name in models
    }
    reference_accuracy = np.zeros(shape)
    with contextlib.ExitStack() as stack:
        target = stack.enter_context(evaluating(reference, device))
        for model in models.values():
            stack.enter_context(evaluating(model, target))
        truth = labels.to(target) if labels is not None else None
        for level_index, level in enumerate(levels):
            for draw, noise in enumerate(unit_noise):
                noisy = clean + level * noise
                if reference_logits is None:
                    logits = batched_logits(reference, noisy, batch_size, target).float()
                else:
                    logits = reference_logits[level_index][draw].to(target)
                reference_predicted = logits.argmax(dim=1)
                reference_softmax = logits.softmax(dim=1)
                if truth is not None:
                    reference_accuracy[level_index, draw] = (
                        (reference_predicted == truth).float().mean().item()
                    )
                for name, model in models.items():
                    logits = batched_logits(model, noisy, batch_size, target).float()
                    predicted = logits.argmax(dim=1)
                    tally = tallies[name]
                    tally["agreement"][level_index, draw] = (
                        (predicted == reference_predicted).float().mean().item()
                    )
                    distance = torch.linalg.vector_norm(
                        logits.softmax(dim=1) - reference_softmax, dim=1
                    )
                    tally["distances"][level_index].append(distance.cpu())
                    if truth is not None:
                        tally["accuracy"][level_index, draw] = (
                            (predicted == truth).float().mean().item()
                        )

    results = {}
    for name, tally in tallies.items():
        l2 = [torch.cat(level_distances).double() for level_distances in tally["distances"]]
        results[name] = NoiseSimilarity(
            eps=levels,
            agreement=[float(v) for v in tally["agreement"].mean(axis=1)],
            agreement_std=[float(v) for v in tally["agreement"].std(axis=1)],
            softmax_l2=[float(d.mean()) for d in l2],
            softmax_l2_std=[float(d.std(unbiased=False)) for d in l2],
            accuracy=[float(v) for v in tally["accuracy"].mean(axis=1)]
            if truth is not None
            else None,
            reference_accuracy=(
                [float(v) for v in reference_accuracy.mean(axis=1)] if truth is not None else None
            ),
        )
    return results
