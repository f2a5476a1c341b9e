"""Pruning-identified exemplars: modal labels of two populations differ."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robustprune.metrics import (
    count_pruning_identified_exemplars,
    modal_labels,
    pruning_identified_exemplars,
)


def test_modal_labels_over_seeds_break_ties_to_the_smallest_class():
    predictions = np.array([[1, 2, 3, 0], [1, 2, 4, 5], [0, 3, 4, 5]])
    assert modal_labels(predictions).tolist() == [1, 2, 4, 5]
    assert modal_labels(np.array([[2], [1]])).tolist() == [1]


def test_pies_are_examples_whose_modal_label_changes():
    parent = np.array([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 9, 3]])
    pruned = torch.tensor([[0, 1, 2, 7], [0, 5, 2, 7], [0, 5, 2, 3]])
    # Example 1: pruned mode 5 != 1; example 3: pruned mode 7 != 3; example 2: one stray vote only.
    assert pruning_identified_exemplars(parent, pruned).tolist() == [False, True, False, True]
    assert count_pruning_identified_exemplars(parent, pruned) == 2


def test_identical_populations_have_no_pies():
    predictions = np.random.default_rng(0).integers(0, 10, size=(3, 500))
    assert count_pruning_identified_exemplars(predictions, predictions) == 0


def test_mismatched_examples_and_non_integer_labels_are_rejected():
    with pytest.raises(ValueError, match="same examples"):
        pruning_identified_exemplars(np.zeros((2, 3), int), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="integer labels"):
        pruning_identified_exemplars(np.zeros((2, 3)), np.zeros((2, 3), int))
