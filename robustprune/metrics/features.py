"""Informative features: Sufficient Input Subsets (SIS) by backward selection, and cross-confidence.

A pixel is all channels at one (h, w); removing it sets it to 0 in normalized space (the
dataset mean). The score of a subset is the softmax probability of the class the network
predicts on the full input. Backward selection repeatedly removes the pixel whose removal
leaves the highest score; the pixels removed last are the most informative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from robustprune.metrics._torch import batched_logits, check_batch_size, check_images, evaluating


@dataclass(frozen=True)
class BackwardSelection:
    """Result of backward selection on N inputs with P = H·W pixels.

    ``order`` (N, P) int64: flat pixel indices (h·W + w) in removal order, least informative
    first. ``scores`` (N, P + 1): score after removing the first k pixels of ``order``
    (``scores[:, 0]`` on the full input, ``scores[:, P]`` with every pixel removed).
    ``predicted`` (N,): the class scored, predicted on the full input. All on CPU.
    """

    order: torch.Tensor
    scores: torch.Tensor
    predicted: torch.Tensor
    input_size: tuple[int, int]


@torch.inference_mode()
def backward_selection(
    model: nn.Module,
    inputs: torch.Tensor,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
) -> BackwardSelection:
    """Order every pixel of every input by backward selection (one batched step per removal).

    Each of the P steps scores all candidate removals of all N inputs together, in forward
    chunks of at most ``batch_size`` images; ties go to the lowest pixel index. Cost: N·P(P+1)/2
    forward images, so use a few hundred inputs at 32×32, not a test set.
    """
    check_images(inputs)
    check_batch_size(batch_size)
    count, channels, height, width = inputs.shape
    pixels = height * width
    with evaluating(model, device) as target:
        flat = inputs.detach().to(target).reshape(count, channels, pixels)
        full_probabilities = (
            batched_logits(model, inputs, batch_size, target).float().softmax(dim=1)
        )
        predicted = full_probabilities.argmax(dim=1)
        kept = torch.ones(count, pixels, dtype=torch.bool, device=target)
        order = torch.empty(count, pixels, dtype=torch.long, device=target)
        scores = torch.empty(count, pixels + 1, dtype=torch.float32, device=target)
        scores[:, 0] = full_probabilities.gather(1, predicted[:, None]).squeeze(1)
        for step in range(pixels):
            remaining = pixels - step
            # Row-major nonzero: image 0's remaining pixels, then image 1's, ... (remaining each).
            image_index, pixel_index = kept.nonzero(as_tuple=True)
            current = flat * kept[:, None, :]
            candidate_scores = torch.empty(image_index.numel(), device=target)
            for start in range(0, image_index.numel(), batch_size):
                stop = min(start + batch_size, image_index.numel())
                images = image_index[start:stop]
                batch = current[images]  # advanced indexing copies
                batch[torch.arange(stop - start, device=target), :, pixel_index[start:stop]] = 0.0
                probabilities = (
                    model(batch.reshape(-1, channels, height, width)).float().softmax(dim=1)
                )
                candidate_scores[start:stop] = probabilities.gather(
                    1, predicted[images][:, None]
                ).squeeze(1)
            candidate_scores = candidate_scores.reshape(count, remaining)
            best_score, best = candidate_scores.max(dim=1)
            chosen = pixel_index.reshape(count, remaining).gather(1, best[:, None]).squeeze(1)
            order[:, step] = chosen
            scores[:, step + 1] = best_score
            kept[torch.arange(count, device=target), chosen] = False
    return BackwardSelection(order.cpu(), scores.cpu(), predicted.cpu(), (height, width))


def sufficient_input_subsets(selection: BackwardSelection, threshold: float = 0.9) -> torch.Tensor:
    """Boolean (N, H, W) masks: the smallest set of last-removed pixels whose score is >= ``threshold``.

    ``threshold`` is a probability in [0, 1]. Removing pixels can raise the score, so a subset
    may suffice even where the full input does not; an input with none gets the whole image.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    count, pixels = selection.order.shape
    # Keeping the last m removed pixels has score scores[:, P - m]; find the smallest such m.
    sizes = torch.arange(pixels + 1)
    sufficient = selection.scores[:, pixels - sizes] >= threshold  # (N, m = 0..P)
    smallest = torch.where(
        sufficient.any(dim=1), sufficient.float().argmax(dim=1), torch.tensor(pixels)
    )
    return _keep_last(selection, smallest)


def top_pixel_masks(selection: BackwardSelection, fraction: float = 0.05) -> torch.Tensor:
    """Boolean (N, H, W) masks of the ceil(fraction·P) most informative pixels (the last removed)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    count, pixels = selection.order.shape
    keep = max(1, math.ceil(fraction * pixels - 1e-9))
    return _keep_last(selection, torch.full((count,), keep, dtype=torch.long))


def _keep_last(selection: BackwardSelection, sizes: torch.Tensor) -> torch.Tensor:
    count, pixels = selection.order.shape
    position = torch.arange(pixels).expand(count, pixels)
    keep_in_order = position >= (pixels - sizes)[:, None]
    masks = torch.zeros(count, pixels, dtype=torch.bool)
    masks.scatter_(1, selection.order, keep_in_order)
    return masks.reshape(count, *selection.input_size)


@dataclass(frozen=True)
class CrossConfidence:
    """``values[a][b]``: mean softmax probability of the true class that model ``names[a]``
    gives on inputs reduced to the pixels model ``names[b]`` found most informative."""

    names: list[str]
    values: list[list[float]]
    fraction: float

    def to_dict(self) -> dict[str, object]:
        """Plain JSON types, for records."""
        return {"names": self.names, "values": self.values, "fraction": self.fraction}


@torch.inference_mode()
def cross_confidence(
    models: Mapping[str, nn.Module],
    inputs: torch.Tensor,
    labels: torch.Tensor,
    fraction: float = 0.05,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
    selections: Mapping[str, BackwardSelection] | None = None,
) -> CrossConfidence:
    """Cross-confidence matrix over ``models`` (e.g. parent, pruned at several ratios, another seed).

    Each model selects its top ``fraction`` of pixels by backward selection (or takes them from
    ``selections``); every model is then scored on every selection with the others masked to 0.
    """
    check_images(inputs)
    if labels.shape != (inputs.shape[0],):
        raise ValueError(f"labels must have shape ({inputs.shape[0]},), got {tuple(labels.shape)}")
    if not models:
        raise ValueError("cross_confidence needs at least one model, got none")
    names = list(models)
    selections = dict(selections or {})
    unknown = sorted(set(selections) - set(names))
    if unknown:
        raise KeyError(f"selections given for unknown model(s) {unknown}; models are {names}")
    for name in names:
        if name not in selections:
            selections[name] = backward_selection(models[name], inputs, batch_size, device)
    masks = {name: top_pixel_masks(selections[name], fraction) for name in names}
    truth = labels.detach().cpu().long()[:, None]
    values = []
    for evaluated in names:
        row = []
        with evaluating(models[evaluated], device) as target:
            for selector in names:
                reduced = inputs.detach().cpu() * masks[selector][:, None, :, :]
                probabilities = batched_logits(models[evaluated], reduced, batch_size, target)
                probabilities = probabilities.float().softmax(dim=1).cpu()
                row.append(float(probabilities.gather(1, truth).mean()))
        values.append(row)
    return CrossConfidence(names, values, float(fraction))
