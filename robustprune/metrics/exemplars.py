"""Pruning-identified exemplars (Hooker et al. 2019): test examples a pruned population answers differently.

An example is a PIE when the modal (most frequent) predicted label over the pruned networks'
seeds differs from the modal label over the parents' seeds. Ties in a mode go to the smallest
class index, so use an odd number of seeds where possible.
"""

from __future__ import annotations

import numpy as np
import torch


def _predictions(values: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[0] == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must be integer labels shaped (seeds, N) or (N,), got dtype {array.dtype} "
            f"and shape {array.shape}"
        )
    if array.size and array.min() < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got minimum {array.min()}")
    return array


def modal_labels(predictions: np.ndarray | torch.Tensor) -> np.ndarray:
    """Most frequent label per example over seeds; ``predictions`` is (seeds, N) class indices."""
    labels = _predictions(predictions, "predictions")
    seeds, count = labels.shape
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    classes = int(labels.max()) + 1
    votes = np.zeros((count, classes), dtype=np.int64)
    np.add.at(votes, (np.broadcast_to(np.arange(count), labels.shape), labels), 1)
    return votes.argmax(axis=1)


def pruning_identified_exemplars(
    parent_predictions: np.ndarray | torch.Tensor,
    pruned_predictions: np.ndarray | torch.Tensor,
) -> np.ndarray:
    """Boolean (N,) mask of PIEs: modal pruned label != modal parent label.

    Both arguments are predicted labels shaped (seeds, N) on the same N test examples; the two
    populations may have different numbers of seeds.
    """
    parent = _predictions(parent_predictions, "parent_predictions")
    pruned = _predictions(pruned_predictions, "pruned_predictions")
    if parent.shape[1] != pruned.shape[1]:
        raise ValueError(
            f"parent and pruned predictions must cover the same examples, got N = "
            f"{parent.shape[1]} and N = {pruned.shape[1]}"
        )
    return modal_labels(parent) != modal_labels(pruned)


def count_pruning_identified_exemplars(
    parent_predictions: np.ndarray | torch.Tensor,
    pruned_predictions: np.ndarray | torch.Tensor,
) -> int:
    """Number of PIEs among the test examples (see :func:`pruning_identified_exemplars`)."""
    return int(pruning_identified_exemplars(parent_predictions, pruned_predictions).sum())
