"""The model zoo: published sizes, shapes on digits and CIFAR inputs, pruning-code constraints."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.fx
from torch import nn

from robustprune import models
from robustprune.models import UnknownModelError

CIFAR_MODELS = [
    "densenet22",
    "resnet8",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "vgg11_bn",
    "vgg11_bn_slim",
    "vgg16_bn",
    "wrn16_2",
    "wrn16_8",
]

# Published sizes (millions of parameters): He et al. 2016 (ResNets), Liebenwein et al. 2021
# table 1 (vgg16_bn, densenet22, wrn16_8), torchvision's model cards (ImageNet, DeepLabV3
# minus its aux head). CIFAR and digits nets at 10 classes, ImageNet at 1000, VOC at 21.
PUBLISHED_MILLIONS = {
    "resnet20": (0.27, 10),
    "resnet56": (0.85, 10),
    "resnet110": (1.7, 10),
    "vgg16_bn": (15.0, 10),
    "densenet22": (0.07, 10),
    "wrn16_8": (11.0, 10),
    "resnet18": (11.69, 1000),
    "resnet101": (44.55, 1000),
    "deeplabv3_resnet50": (39.64, 21),
}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("name", sorted(PUBLISHED_MILLIONS))
def test_parameter_count_matches_published(name):
    published, num_classes = PUBLISHED_MILLIONS[name]
    model = models.create(name, num_classes=num_classes)
    millions = count_parameters(model) / 1e6
    assert millions == pytest.approx(published, rel=0.03), f"{name}: {millions:.3f}M"


@pytest.mark.parametrize("name", CIFAR_MODELS)
@pytest.mark.parametrize(("in_channels", "side"), [(1, 8), (3, 32)], ids=["digits8x8", "cifar32"])
def test_cifar_output_shape_and_fx_trace(name, in_channels, side):
    model = models.create(name, num_classes=7, in_channels=in_channels, input_size=side).eval()
    inputs = torch.randn(2, in_channels, side, side)
    traced = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        logits = model(inputs)
        traced_logits = traced(inputs)
    assert logits.shape == (2, 7)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(traced_logits, logits)


def test_non_square_input_size():
    model = models.create("vgg11_bn", num_classes=4, in_channels=1, input_size=(8, 12)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 8, 12)).shape == (1, 4)


def test_vgg_pools_only_while_the_map_is_at_least_two_pixels():
    pools = {
        side: sum(
            isinstance(m, nn.MaxPool2d)
            for m in models.create("vgg16_bn", input_size=side).modules()
        )
        for side in (8, 32)
    }
    assert pools == {8: 3, 32: 5}


def _call_counts(model: nn.Module, inputs: torch.Tensor) -> Counter:
    calls: Counter = Counter()
    handles = [
        module.register_forward_hook(lambda m, i, o, name=name: calls.update([name]))
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    with torch.no_grad():
        model(inputs)
    for handle in handles:
        handle.remove()
    return calls


@pytest.mark.parametrize("name", CIFAR_MODELS + ["resnet18"])
def test_pruning_constraints(name):
    """Every leaf module runs once per forward, convs are ungrouped, the last Linear classifies."""
    model = models.create(name, num_classes=5, in_channels=1, input_size=16).eval()
    calls = _call_counts(model, torch.randn(1, 1, 16, 16))
    reused = {module: count for module, count in calls.items() if count > 1}
    assert not reused, f"{name} reuses modules: {reused}"
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(conv.groups == 1 for conv in convs)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears[-1].out_features == 5
    assert convs[0].in_channels == 1


def test_deeplab_returns_logits_tensor_without_shared_relus():
    model = models.create("deeplabv3_resnet50", num_classes=3, input_size=64).eval()
    calls = _call_counts(model, torch.randn(1, 3, 64, 64))
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 64, 64))
    assert isinstance(logits, torch.Tensor)
    assert logits.shape == (1, 3, 64, 64)
    assert not {module for module, count in calls.items() if count > 1}


def test_resnet18_small_input_and_grayscale_stem():
    model = models.create("resnet18", num_classes=6, in_channels=1, input_size=64).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 6)
    # Only ReLU modules were added: parameter names stay torchvision's.
    import torchvision

    reference = torchvision.models.resnet18(weights=None, num_classes=6)
    names = {k for k in model.state_dict() if not k.startswith("conv1.")}
    assert names == {k for k in reference.state_dict() if not k.startswith("conv1.")}


def test_timm_prefix_builds_timm_models():
    model = models.create("timm:test_resnet", num_classes=7, in_channels=1, input_size=32).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 7)


def test_unknown_timm_model_is_named():
    with pytest.raises(UnknownModelError, match="no_such_net"):
        models.create("timm:no_such_net")


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        models.create("resnet21")
    message = str(info.value)
    assert "'resnet21'" in message
    for name in models.list_models():
        assert name in message
    assert "timm:" in message
    with pytest.raises(KeyError):
        models.model_info("resnet21")


def test_list_models_is_sorted_and_filterable():
    names = models.list_models()
    assert names == sorted(names)
    assert set(CIFAR_MODELS) <= set(names)
    assert models.list_models("resnet*") == sorted(n for n in names if n.startswith("resnet"))
    assert models.list_models(["vgg*", "wrn16_2"]) == [
        "vgg11_bn",
        "vgg11_bn_slim",
        "vgg16_bn",
        "wrn16_2",
    ]
    assert models.list_models("nothing*") == []


def test_register_model_adds_a_name_and_rejects_duplicates():
    @models.register_model("tiny_test_net", family="test")
    def tiny_test_net(num_classes, in_channels, input_size):
        """A one-layer test net."""
        return nn.Sequential(
            nn.Flatten(), nn.Linear(in_channels * input_size[0] * input_size[1], num_classes)
        )

    try:
        assert "tiny_test_net" in models.list_models()
        info = models.model_info("tiny_test_net")
        assert (info.family, info.description) == ("test", "A one-layer test net.")
        model = models.create("tiny_test_net", num_classes=3, in_channels=1, input_size=(2, 4))
        assert model(torch.zeros(1, 1, 2, 4)).shape == (1, 3)
        with pytest.raises(ValueError, match="already registered"):
            models.register_model("tiny_test_net")(tiny_test_net)
    finally:
        models.unregister_model("tiny_test_net")
    assert "tiny_test_net" not in models.list_models()


def test_builtin_duplicate_raises():
    with pytest.raises(ValueError, match="'resnet20' from .* is already registered by robustprune"):

        @models.register_model
        def resnet20(num_classes, in_channels, input_size):
            """Clashes with the built-in."""
            return nn.Identity()


def test_reserved_timm_prefix_cannot_be_registered():
    with pytest.raises(ValueError, match="reserved prefix"):
        models.register_model("timm:mine")(lambda n, c, s: nn.Identity())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"in_channels": -1}, "in_channels"),
        ({"input_size": (8,)}, "input_size"),
        ({"input_size": 0}, "input_size"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        models.create("resnet8", **kwargs)


def test_weights_are_random_not_pretrained():
    torch.manual_seed(0)
    first = models.create("resnet8").conv1.weight.clone()
    torch.manual_seed(1)
    second = models.create("resnet8").conv1.weight
    assert not torch.equal(first, second)
