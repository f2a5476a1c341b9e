"""Sufficient Input Subsets by backward selection, checked against brute force, and cross-confidence."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from robustprune.metrics import (
    backward_selection,
    cross_confidence,
    sufficient_input_subsets,
    top_pixel_masks,
)


def linear_model(classes: int, seed: int, channels: int = 2, size: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, classes)).double().eval()


def inputs(count: int, seed: int, channels: int = 2, size: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, channels, size, size, generator=generator, dtype=torch.float64)


def score(model: nn.Module, image: torch.Tensor, keep: torch.Tensor, cls: int) -> float:
    """Probability of ``cls`` with only the pixels in ``keep`` (flat bool, P) left unmasked."""
    masked = image * keep.reshape(1, *image.shape[1:])
    with torch.no_grad():
        return float(model(masked[None]).softmax(dim=1)[0, cls])


def brute_force_backward_selection(model, image):
    """Reference: one forward per candidate, greedy removal, ties to the lowest pixel index."""
    pixels = image.shape[1] * image.shape[2]
    with torch.no_grad():
        cls = int(model(image[None]).argmax())
    keep = torch.ones(pixels, dtype=torch.bool)
    order, scores = [], [score(model, image, keep, cls)]
    for _ in range(pixels):
        best_pixel, best_score = None, -1.0
        for pixel in range(pixels):
            if not keep[pixel]:
                continue
            trial = keep.clone()
            trial[pixel] = False
            value = score(model, image, trial, cls)
            if value > best_score:
                best_pixel, best_score = pixel, value
        keep[best_pixel] = False
        order.append(best_pixel)
        scores.append(best_score)
    return order, scores, cls


@pytest.mark.parametrize("batch_size", [1, 7, 1024])
def test_backward_selection_equals_brute_force_on_3x3_inputs(batch_size):
    model = linear_model(classes=4, seed=0)
    images = inputs(5, seed=1)
    selection = backward_selection(model, images, batch_size=batch_size)
    assert selection.order.shape == (5, 9) and selection.scores.shape == (5, 10)
    for index, image in enumerate(images):
        order, scores, cls = brute_force_backward_selection(model, image)
        assert selection.predicted[index] == cls
        assert selection.order[index].tolist() == order
        assert selection.scores[index].tolist() == pytest.approx(scores, abs=1e-5)


def test_sis_of_a_two_class_linear_model_is_the_exhaustive_minimum():
    model = linear_model(classes=2, seed=3)
    images = inputs(12, seed=4) * 2.0
    threshold = 0.8
    selection = backward_selection(model, images)
    masks = sufficient_input_subsets(selection, threshold)
    sizes = set()
    for index, image in enumerate(images):
        cls = int(selection.predicted[index])
        smallest = min(
            (
                size
                for size in range(10)
                for subset in itertools.combinations(range(9), size)
                if score(
                    model,
                    image,
                    torch.isin(torch.arange(9), torch.tensor(subset, dtype=torch.long)),
                    cls,
                )
                >= threshold
            ),
            default=None,
        )
        if smallest is None:
            assert masks[index].all()  # nothing is sufficient: the whole image is returned
            continue
        assert int(masks[index].sum()) == smallest
        assert score(model, image, masks[index].flatten(), cls) >= threshold
        sizes.add(smallest)
    assert len(sizes) >= 3  # the check covered several different subset sizes
    assert sufficient_input_subsets(selection, 1.0).all()  # unreachable: whole images


def test_top_pixel_masks_keep_the_last_removed_pixels():
    model = linear_model(classes=3, seed=5, size=4)
    images = inputs(3, seed=6, size=4)
    selection = backward_selection(model, images)
    masks = top_pixel_masks(selection, fraction=0.2)  # ceil(0.2 * 16) = 4 pixels
    assert masks.shape == (3, 4, 4)
    for index in range(3):
        expected = set(selection.order[index, -math.ceil(0.2 * 16) :].tolist())
        assert set(masks[index].flatten().nonzero().flatten().tolist()) == expected
    with pytest.raises(ValueError, match="fraction"):
        top_pixel_masks(selection, fraction=0.0)


def test_cross_confidence_scores_each_model_on_each_selection():
    models = {"parent": linear_model(3, seed=7), "pruned": linear_model(3, seed=8)}
    with torch.no_grad():
        models["pruned"][1].weight[:, ::2] = 0.0
    images = inputs(6, seed=9)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    result = cross_confidence(models, images, labels, fraction=0.3, batch_size=16)
    assert result.names == ["parent", "pruned"]
    for a, evaluated in enumerate(result.names):
        for b, selector in enumerate(result.names):
            mask = top_pixel_masks(backward_selection(models[selector], images), 0.3)
            with torch.no_grad():
                probabilities = models[evaluated](images * mask[:, None]).softmax(dim=1)
            expected = float(probabilities[torch.arange(6), labels].mean())
            assert result.values[a][b] == pytest.approx(expected, abs=1e-6)
    # Precomputed selections are reused; unknown names are rejected.
    selection = backward_selection(models["parent"], images)
    again = cross_confidence(models, images, labels, 0.3, selections={"parent": selection})
    assert again.values == result.values
    with pytest.raises(KeyError, match="other"):
        cross_confidence(models, images, labels, selections={"other": selection})


def test_backward_selection_restores_training_mode_and_checks_inputs():
    model = linear_model(classes=2, seed=0).train()
    backward_selection(model, inputs(1, seed=0))
    assert model.training
    with pytest.raises(ValueError, match="N×C×H×W"):
        backward_selection(model, torch.zeros(2, 18))
