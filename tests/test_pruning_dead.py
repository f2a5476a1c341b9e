"""Faithful structure: after a prune step nothing dead is counted as kept (issue: channel groups
across residual adds and concatenations, dead structure found from data, torchprune's rules)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustprune.models import registry
from robustprune.pruning import (
    apply_masks,
    default_registry,
    parameter_count,
    prunable_weights,
    validate_masks,
)
from robustprune.pruning.dead import DeadStructure
from robustprune.pruning.masks import combine_masks, weight_name
from robustprune.pruning.structure import CONSUMER, PRODUCER, channel_structure

METHODS = ("WT", "SiPP", "FT", "PFP")
DIGITS_ARCHS = ("resnet20", "vgg11_bn_slim", "densenet22", "wrn16_2")
OTHER_CIFAR_ARCHS = ("resnet8", "resnet56", "vgg11_bn", "vgg16_bn", "wrn16_8")


def digits_like(arch: str, seed: int = 0) -> tuple[nn.Module, list]:
    """A random-init network at the digits suite's input size and a sample set S for it."""
    torch.manual_seed(seed)
    model = registry.create(arch, num_classes=10, in_channels=1, input_size=(8, 8)).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    inputs = torch.randn(96, 1, 8, 8, generator=generator)
    return model, [(inputs, torch.zeros(96, dtype=torch.long))]


def dead_but_kept(
    model: nn.Module, masks: dict, sample: list, structured: bool = False
) -> tuple[int, int]:
    """(kept units whose gradient over S is identically zero, kept consumer weights that read
    an input-independent channel) of the masked network. Units are single entries of any
    parameter, or with ``structured`` whole output filters of prunable layers (torchprune's
    FilterNet rule). A layer's last kept filter is exempt: the contract empties no layer, so
    a layer dead on S keeps one kernel slice (dead.py)."""
    gradients, constant = DeadStructure(model, sample).probe(masks)
    parameters = dict(model.named_parameters())
    last_entry = {
        name
        for name, mask in masks.items()
        if int(mask.reshape(mask.shape[0], -1).any(dim=1).sum()) == 1
    }
    zero_gradient = 0
    for name, gradient in gradients.items():
        kept = masks.get(name, torch.ones_like(gradient, dtype=torch.bool))
        if name in last_entry:
            continue
        if not structured:
            zero_gradient += int((kept & (gradient == 0)).sum())
        elif name in prunable_weights(model):
            rows = gradient.shape[0]
            silent = gradient.reshape(rows, -1).eq(0).all(dim=1)
            zero_gradient += int((kept.reshape(rows, -1).any(dim=1) & silent).sum())
    constant_reads = 0
    for layer, channels in constant.items():
        name = weight_name(layer)
        kept = masks.get(name, torch.ones_like(parameters[name], dtype=torch.bool))
        if name not in last_entry:
            constant_reads += int(kept[:, channels].sum())
    return zero_gradient, constant_reads


def check_step(arch: str, method: str, ratios: tuple[float, ...]) -> None:
    model, sample = digits_like(arch)
    parent_count = parameter_count(model)
    pruner = default_registry().create(method)
    previous: dict = {}
    for ratio in ratios:
        masks = combine_masks(pruner.prune(model, ratio, sample), previous)
        achieved = validate_masks(method, model, masks, ratio, parent_count)
        assert achieved == pytest.approx(ratio, abs=0.005)
        structured = pruner.structured
        assert dead_but_kept(model, masks, sample, structured) == (0, 0), (arch, method, ratio)
        for name, mask in previous.items():  # iterative masks stay nested
            assert not (masks[name] & ~mask).any(), (arch, method, ratio, name)
        apply_masks(model, masks)
        previous = masks


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", DIGITS_ARCHS)
def test_no_dead_structure_is_kept_on_the_digits_archs(arch, method):
    check_step(arch, method, (0.5, 0.8))


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", OTHER_CIFAR_ARCHS)
def test_no_dead_structure_is_kept_on_the_other_cifar_archs(arch, method):
    check_step(arch, method, (0.6,))


class TwoBlockResNet(nn.Module):
    """conv -> [block] -> [block] -> pool -> fc, each block conv-bn-relu-conv-bn + identity."""

    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(width)
        self.a1, self.a2 = (
            nn.Conv2d(width, width, 3, padding=1),
            nn.Conv2d(width, width, 3, padding=1),
        )
        self.b1, self.b2 = (
            nn.Conv2d(width, width, 3, padding=1),
            nn.Conv2d(width, width, 3, padding=1),
        )
        self.a_bn, self.b_bn = nn.BatchNorm2d(width), nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, 3)

    def forward(self, x):
        x = torch.relu(self.stem_bn(self.stem(x)))
        x = torch.relu(x + self.a_bn(self.a2(torch.relu(self.a1(x)))))
        x = torch.relu(x + self.b_bn(self.b2(torch.relu(self.b1(x)))))
        return self.fc(x.mean(dim=(2, 3)))


def test_a_residual_stream_is_one_group_across_the_adds():
    model = TwoBlockResNet().eval()
    structure = channel_structure(model, torch.randn(2, 1, 6, 6))
    stream = next(group for group in structure.groups if group.root == "stem")
    assert {m.module for m in stream.role(PRODUCER)} == {"stem", "a2", "b2"}
    assert {m.module for m in stream.role(CONSUMER)} == {"a1", "b1", "fc"}


def test_a_stream_channel_without_producers_is_unread_and_keeps_its_bn():
    model = TwoBlockResNet().eval()
    structure = channel_structure(model, torch.randn(2, 1, 6, 6))
    masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in model.named_parameters()}
    for producer in ("stem", "a2", "b2"):
        masks[f"{producer}.weight"][2] = False  # every producer of stream channel 2
    propagated = structure.propagate(masks)
    for affine in ("stem_bn", "a_bn", "b_bn"):  # a constant now: BN stays, as in torchprune
        assert propagated[f"{affine}.weight"].all() and propagated[f"{affine}.bias"].all()
    for consumer in ("a1", "b1", "fc"):
        assert not propagated[f"{consumer}.weight"][:, 2].any(), consumer
    assert propagated["a1.weight"][:, 1].all()  # other channels untouched


def test_a_stream_channel_nobody_reads_takes_every_producer_along():
    model = TwoBlockResNet().eval()
    structure = channel_structure(model, torch.randn(2, 1, 6, 6))
    masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in model.named_parameters()}
    for consumer in ("a1", "b1", "fc"):
        masks[f"{consumer}.weight"][:, 4] = False
    propagated = structure.propagate(masks)
    for producer in ("stem", "a2", "b2"):
        assert not propagated[f"{producer}.weight"][4].any(), producer
    assert propagated["a2.bias"][4] and propagated["a_bn.weight"][4]  # never masked
    # one producer alone removed: the stream lives on, every consumer still reads it
    masks = {"a2.weight": torch.ones_like(model.a2.weight, dtype=torch.bool)}
    masks["a2.weight"][0] = False
    propagated = structure.propagate(masks)
    for consumer in ("a1", "b1", "fc"):
        assert propagated.get(f"{consumer}.weight", torch.ones(1, dtype=torch.bool)).all()
    assert "a_bn.weight" not in propagated


def test_concatenated_channels_map_to_their_consumers_slices():
    model = registry.create("densenet22", num_classes=10, in_channels=1, input_size=(8, 8)).eval()
    structure = channel_structure(model, torch.randn(2, 1, 8, 8))
    group = next(g for g in structure.groups if g.root == "dense1.0.conv2")
    slices = {m.module: m.index.tolist() for m in group.role(CONSUMER)}
    assert slices["dense1.1.conv1"] == list(range(24, 36))  # after the stem's 24 channels
    assert slices["trans1.conv"] == list(range(24, 36))
    masks = {
        "dense1.0.conv2.weight": torch.ones_like(model.dense1[0].conv2.weight, dtype=torch.bool)
    }
    masks["dense1.0.conv2.weight"][5] = False
    propagated = structure.propagate(masks)
    assert not propagated["dense1.1.conv1.weight"][:, 29].any()  # 24 + 5
    assert "dense1.1.bn1.weight" not in propagated and "trans1.bn.bias" not in propagated
    assert propagated["dense1.1.conv1.weight"][:, 28].all()


def test_weights_reading_a_dead_relu_are_removed():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).eval()
    with torch.no_grad():
        model[0].bias[1] = -100.0  # unit 1 never fires on S
    sample = [(torch.randn(32, 4), torch.zeros(32, dtype=torch.long))]
    masks = DeadStructure(model, sample).remove({})
    assert not masks["0.weight"][1].any() and not masks["0.bias"][1]  # zero gradient
    assert not masks["2.weight"][:, 1].any()  # reads an input-independent (zero) unit
    assert masks["2.weight"][:, 0].all() and masks["0.weight"][0].all()


def test_without_a_sample_structured_methods_say_what_they_need():
    model, _sample = digits_like("resnet8")
    with pytest.raises(ValueError, match="pruner 'FT' needs the sample set S"):
        default_registry().create("FT").prune(model, 0.5, [])


def test_a_layer_dead_on_s_keeps_one_weight_that_earlier_steps_did_not_remove():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)  # every unit of the first layer is dead on S
        model[2].weight[0, 0] = 0.0  # an entry an earlier step removed
        model[2].weight[0, 1] = 0.0
    sample = [(torch.randn(16, 4), torch.zeros(16, dtype=torch.long))]
    # propagation of a method's own masks may already have emptied a layer
    emptied = {"2.weight": torch.zeros(3, 3, dtype=torch.bool)}
    masks = DeadStructure(model, sample).remove(emptied)
    for name in ("0.weight", "2.weight"):
        assert int(masks[name].sum()) == 1, name
    kept = masks["2.weight"]
    assert bool((model[2].weight.detach() != 0)[kept].all())  # not an entry removed before


def test_a_consumer_reads_only_the_producers_upstream_of_it():
    """Stream channel 2 removed at the stem only: block a's first conv reads nothing but the
    stem's constant there, so its slice goes; block b and the classifier read a2's output too."""
    model = TwoBlockResNet().eval()
    structure = channel_structure(model, torch.randn(2, 1, 6, 6))
    masks = {"stem.weight": torch.ones_like(model.stem.weight, dtype=torch.bool)}
    masks["stem.weight"][2] = False
    propagated = structure.propagate(masks)
    assert not propagated["a1.weight"][:, 2].any()
    assert propagated["a1.weight"][:, [0, 1, 3]].all()
    assert propagated["b1.weight"].all() and propagated["fc.weight"].all()
    assert propagated["a2.weight"].all() and propagated["b2.weight"].all()


def test_a_producer_goes_when_no_consumer_downstream_of_it_reads_the_channel():
    """The classifier drops stream channel 4: b2's filter 4 feeds nothing else and goes; the
    stem's and a2's stay, since a1 and b1 downstream of them still read channel 4."""
    model = TwoBlockResNet().eval()
    structure = channel_structure(model, torch.randn(2, 1, 6, 6))
    masks = {"fc.weight": torch.ones_like(model.fc.weight, dtype=torch.bool)}
    masks["fc.weight"][:, 4] = False
    propagated = structure.propagate(masks)
    assert not propagated["b2.weight"][4].any()
    assert propagated["stem.weight"][4].all() and propagated["a2.weight"][4].all()
    assert propagated["b1.weight"].all() and propagated["a1.weight"].all()


def test_the_probe_finds_no_structure_that_propagation_left():
    """Whole filters removed at random over the stream of a residual net: after propagation a
    pass over S finds no kept input channel constant (the graph decided every such case), and
    handing back masks a pass found settled costs no further pass."""
    torch.manual_seed(0)
    model = TwoBlockResNet().eval()
    with torch.no_grad():  # every ReLU fires on S: whatever is constant is so by structure
        for shift in (
            model.stem_bn.bias,
            model.a_bn.bias,
            model.b_bn.bias,
            model.a1.bias,
            model.b1.bias,
        ):
            shift.fill_(5.0)
    sample = [(torch.randn(16, 1, 6, 6), torch.zeros(16, dtype=torch.long))]
    structure = channel_structure(model, sample[0][0][:2])
    masks = {}
    for name in ("stem", "a2", "b2", "a1"):
        keep = torch.ones_like(getattr(model, name).weight, dtype=torch.bool)
        keep[torch.randperm(keep.shape[0])[:3]] = False
        masks[f"{name}.weight"] = keep
    propagated = structure.propagate(masks)
    dead = DeadStructure(model, sample, structure)
    _gradients, constant = dead.probe(propagated)
    for layer, constant_inputs in constant.items():
        weight_mask = propagated.get(f"{layer}.weight")
        if weight_mask is None:
            continue
        kept_columns = weight_mask.transpose(0, 1).reshape(weight_mask.shape[1], -1).any(dim=1)
        assert not (constant_inputs & kept_columns).any(), layer
    settled = dead.remove(propagated, rounds=1)
    probes = []
    original = dead.probe
    dead.probe = lambda current: probes.append(1) or original(current)
    again = dead.remove(settled)
    assert probes == [] and again is not settled
    assert all(torch.equal(again[name], settled[name]) for name in settled)


def test_a_weight_method_search_counts_structural_dead_channels_before_a_pass():
    """Weight methods close their cheap masks over the channel groups too: a filter that loses
    every weight leaves its channel constant, and every slice reading it is counted as removed
    at once. Where the network cannot be traced, the masks pass unchanged, with a warning."""
    from robustprune.pruning import budget

    model = TwoBlockResNet().eval()
    sample = [(torch.randn(4, 1, 6, 6), torch.zeros(4, dtype=torch.long))]
    masks = {"stem.weight": torch.ones_like(model.stem.weight, dtype=torch.bool)}
    masks["stem.weight"][2] = False
    closed = budget.structural_closure(model, sample)(masks)
    assert not closed["a1.weight"][:, 2].any() and closed["b1.weight"].all()
    assert budget.structural_closure(model, [])(masks) is masks


def test_an_untraceable_network_searches_without_the_closure(monkeypatch):
    from robustprune.pruning import budget

    def refuse(*_args):
        raise RuntimeError("no graph")

    monkeypatch.setattr(budget, "channel_structure", refuse)
    model = TwoBlockResNet().eval()
    sample = [(torch.randn(4, 1, 6, 6), torch.zeros(4, dtype=torch.long))]
    masks = {"stem.weight": torch.ones_like(model.stem.weight, dtype=torch.bool)}
    with pytest.warns(UserWarning, match="could not trace the channel groups of TwoBlockResNet"):
        closure = budget.structural_closure(model, sample)
    assert closure(masks) is masks
