"""Noise similarity: agreement and softmax distance to a reference under uniform input noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from robustprune.data.shifts import noise_ball_eps
from robustprune.metrics import DEFAULT_EPSILONS, noise_similarities, noise_similarity
from robustprune.metrics.similarity import noisy_logits


def tiny_net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 5),
    ).eval()


def data(count: int = 40):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(count, 3, 6, 6, generator=generator)
    labels = torch.randint(0, 5, (count,), generator=generator)
    return images, labels


def test_default_noise_levels_are_the_papers():
    assert len(DEFAULT_EPSILONS) == 15
    assert DEFAULT_EPSILONS[0] == 0.0 and DEFAULT_EPSILONS[-1] == pytest.approx(0.7)


def test_noise_levels_are_numpys_linspace_and_the_shift_registrys_radii():
    # records store these values: they must stay bit for bit what np.linspace gives
    assert DEFAULT_EPSILONS == tuple(float(e) for e in np.linspace(0.0, 0.7, 15))
    assert noise_ball_eps() == list(DEFAULT_EPSILONS)


def test_a_model_compared_with_itself_is_perfectly_similar():
    model = tiny_net(0)
    images, labels = data()
    result = noise_similarity(
        model, model, images, labels, eps=[0.0, 0.3, 0.7], draws=3, batch_size=16, device="cpu"
    )
    assert result.agreement == [1.0, 1.0, 1.0]
    assert result.agreement_std == [0.0, 0.0, 0.0]
    assert result.softmax_l2 == pytest.approx([0.0, 0.0, 0.0], abs=1e-7)
    assert result.accuracy == result.reference_accuracy


def test_clean_level_matches_a_direct_computation():
    model, reference = tiny_net(0), tiny_net(1)
    images, labels = data()
    result = noise_similarity(
        model, reference, images, labels, eps=[0.0, 0.5], draws=2, batch_size=7
    )
    with torch.no_grad():
        a, b = model(images), reference(images)
    agreement = float((a.argmax(1) == b.argmax(1)).float().mean())
    distance = float(torch.linalg.vector_norm(a.softmax(1) - b.softmax(1), dim=1).mean())
    assert result.agreement[0] == pytest.approx(agreement)
    assert result.softmax_l2[0] == pytest.approx(distance, abs=1e-6)
    assert result.accuracy[0] == pytest.approx(float((a.argmax(1) == labels).float().mean()))
    assert result.agreement_std[0] == 0.0  # no noise: every draw identical


def test_noise_is_seeded_and_actually_applied():
    model, reference = tiny_net(0), tiny_net(2)
    images, _ = data()
    first = noise_similarity(model, reference, images, eps=[0.0, 3.0], draws=4, seed=5)
    again = noise_similarity(model, reference, images, eps=[0.0, 3.0], draws=4, seed=5)
    other = noise_similarity(model, reference, images, eps=[0.0, 3.0], draws=4, seed=6)
    assert first == again
    assert first.softmax_l2[1] != first.softmax_l2[0]
    assert other.softmax_l2[1] != first.softmax_l2[1]
    assert first.accuracy is None and first.to_dict()["eps"] == [0.0, 3.0]


def test_bad_arguments_are_named():
    model = tiny_net(0)
    images, _ = data(4)
    with pytest.raises(ValueError, match="draws"):
        noise_similarity(model, model, images, draws=0)
    with pytest.raises(ValueError, match="eps"):
        noise_similarity(model, model, images, eps=[-0.1])
    with pytest.raises(ValueError, match="labels"):
        noise_similarity(model, model, images, labels=torch.zeros(3, dtype=torch.long))


def test_several_models_at_once_match_one_at_a_time() -> None:
    from robustprune.metrics import noise_similarities, noise_similarity

    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4))
    others = {
        name: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4)) for name in "ab"
    }
    inputs = torch.randn(20, 3, 2, 2)
    labels = torch.randint(0, 4, (20,))
    together = noise_similarities(others, reference, inputs, labels, eps=[0.0, 0.5], draws=2)
    for name, model in others.items():
        alone = noise_similarity(model, reference, inputs, labels, eps=[0.0, 0.5], draws=2)
        assert together[name] == alone


def test_a_reference_run_once_gives_what_each_call_would_measure():
    # the harness runs a parent once on the noisy inputs and shares it across its pruned nets
    reference, models = tiny_net(0), {"a": tiny_net(1), "b": tiny_net(2)}
    images, labels = data()
    arguments = {"eps": [0.0, 0.3, 0.7], "draws": 2, "seed": 3, "batch_size": 16}
    joint = noise_similarities(models, reference, images, labels, **arguments)
    logits = noisy_logits(reference, images, **arguments)
    for name, model in models.items():
        alone = noise_similarities(
            {name: model}, reference, images, labels, reference_logits=logits, **arguments
        )
        assert alone[name].to_dict() == joint[name].to_dict()  # bit for bit


def test_reference_logits_for_other_levels_or_draws_are_refused():
    images, labels = data()
    logits = noisy_logits(tiny_net(0), images, eps=[0.0, 0.3], draws=2)
    with pytest.raises(ValueError, match="reference_logits must hold 3 levels x 2 draws"):
        noise_similarities(
            {"a": tiny_net(1)}, tiny_net(0), images, labels, eps=[0.0, 0.3, 0.7], draws=2,
            reference_logits=logits,
        )  # fmt: skip
