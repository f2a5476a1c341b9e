"""A diverged training run stops with a named error and nothing non-finite is ever cached."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_data
from torch import nn

from robustprune.cache import ArtifactStore, NonFiniteArtifactError
from robustprune.pipeline import prune_curve
from robustprune.recipes import Recipe
from robustprune.train import NonFiniteLossError, train

RECIPE = Recipe("diverging", epochs=2, batch_size=16, lr=0.05, weight_decay=0.0)


def nan_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(128, 4))
    with torch.no_grad():
        model[3].bias[1] = float("nan")  # a bias: WT's weight scores stay finite
    return model


def test_nan_loss_stops_training_naming_context_recipe_epoch_and_step():
    with pytest.raises(NonFiniteLossError) as error:
        train(nan_model(), tiny_data(train=64), RECIPE, 0, "cpu", context="parent tiny/net seed 0")
    message = str(error.value)
    assert message.startswith("parent tiny/net seed 0: the loss is nan")
    assert "epoch 1/2, step 1/4 of recipe 'diverging'" in message


class _Amplify(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1e4


def test_weights_that_blow_up_in_the_last_step_are_refused():
    # one step: its loss is finite, the update it makes overflows the weights to inf
    huge = Recipe("huge-lr", epochs=1, batch_size=64, lr=1e38, weight_decay=0.0, momentum=0.0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), _Amplify(), nn.Linear(36, 4))
    with pytest.raises(NonFiniteLossError, match="recipe 'huge-lr' left non-finite values in"):
        train(model, tiny_data(train=64), huge, 0, "cpu", context="x")


def test_diverged_retrain_names_the_step_and_caches_nothing(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(NonFiniteLossError) as error:
        prune_curve(
            nan_model(), tiny_data(train=64), "WT", [0.3, 0.5], RECIPE, 0, "cpu", store,
            parent_key="p", context="tiny/net/WT seed 0",
        )  # fmt: skip
    assert str(error.value).startswith(
        "tiny/net/WT seed 0: WT iterative step 1/2 (prune ratio 0.30"
    )
    assert "recipe 'diverging'" in str(error.value)
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.safetensors"))


def test_store_refuses_non_finite_tensors_and_meta(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(NonFiniteArtifactError, match=r"tensor 'w'.*\"arch\": \"net\""):
        store.get_or_create(
            "parent", {"arch": "net"}, lambda: ({"w": torch.tensor([1.0, float("nan")])}, {})
        )
    with pytest.raises(NonFiniteArtifactError, match=r"meta \.scores\[1\]"):
        store.get_or_create("evaluation", {"m": 1}, lambda: ({}, {"scores": [0.5, float("inf")]}))
    assert not list(tmp_path.rglob("*.json"))
    ok = store.get_or_create("parent", {"arch": "net"}, lambda: ({"w": torch.ones(2)}, {"a": 1.0}))
    assert ok.computed


def test_nan_parent_is_not_cached_by_the_harness(tmp_path, monkeypatch):
    from robustprune.harness import CaseRunner
    from robustprune.suite import load_suite

    suite_file = tmp_path / "s.toml"
    suite_file.write_text(
        'dataset = "digits"\narchs = ["resnet8"]\ntrain_recipe = "digits"\n'
        'retrain_recipe = "digits_retrain"\nshifts = ["noise:uniform:0.3"]\n'
    )
    runner = CaseRunner(load_suite(suite_file), ArtifactStore(tmp_path / "cache"), "cpu")
    make = runner.new_model

    def poisoned(arch: str) -> nn.Module:
        model = make(arch)
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))
        return model

    monkeypatch.setattr(runner, "new_model", poisoned)
    with pytest.raises(NonFiniteLossError) as error:
        runner.parent("resnet8", 0)
    assert str(error.value).startswith("parent digits/resnet8 seed 0: the loss is nan at epoch 1/")
    assert "step 1/" in str(error.value) and "recipe 'digits'" in str(error.value)
    assert not list((tmp_path / "cache").rglob("*.json"))
