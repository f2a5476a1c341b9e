"""The four methods against independent references: torch's pruning, l1 ranking, the definitions."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune as torch_prune

from robustprune.pruning import default_registry, parameter_count, prune_ratio, sample_size
from robustprune.pruning.filters import filter_removal_order
from robustprune.pruning.pfp import ChannelBudget, per_layer_kept
from robustprune.pruning.sensitivity import channel_sensitivities, weight_sensitivities
from robustprune.pruning.structure import AFFINE, CONSUMER, PRODUCER, channel_structure


def conv_net(seed: int = 0, width: int = 24) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, width, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(width * 4, 10),
    )


def sample_for(seed: int = 1, count: int = 6) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(count, 2, 8, 8, generator=generator), torch.zeros(count, dtype=torch.long))
    ]


@pytest.mark.parametrize("ratio", [0.3, 0.75])
def test_wt_equals_torch_global_l1_unstructured(ratio):
    model = conv_net()
    masks = default_registry().create("WT").prune(model, ratio, [])
    removed = sum(int((~mask).sum()) for mask in masks.values())
    reference = copy.deepcopy(model)
    layers = [(m, "weight") for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    torch_prune.global_unstructured(
        layers, pruning_method=torch_prune.L1Unstructured, amount=removed
    )
    names = [n for n, m in reference.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for name, (module, _) in zip(names, layers, strict=True):
        assert torch.equal(masks[f"{name}.weight"], module.weight_mask.bool()), name
    assert prune_ratio(model, masks, parameter_count(model)) == pytest.approx(ratio, abs=1e-3)


def test_ft_keeps_top_l1_filters_and_spares_the_output_layer():
    model = conv_net(width=32)
    with torch.no_grad():  # every ReLU fires on S, so nothing is dead (dead.py) and FT is pure l1
        for shifted in (model[1], model[4], model[7]):
            shifted.bias.fill_(10.0)
    sample = sample_for(count=32)
    masks = default_registry().create("FT").prune(model, 0.5, sample)
    # one filter here is ~3% of this small net, so the target is met to within half of that
    assert prune_ratio(model, masks, parameter_count(model)) == pytest.approx(0.5, abs=0.015)
    for name in ("0", "3", "7"):
        weight = getattr(model, name).weight.detach()
        kept_rows = masks[f"{name}.weight"].reshape(weight.shape[0], -1).any(dim=1)
        count = int(kept_rows.sum())
        top = weight.reshape(weight.shape[0], -1).abs().sum(dim=1).topk(count).indices
        assert set(torch.nonzero(kept_rows).flatten().tolist()) == set(top.tolist()), name
        assert 0 < count < weight.shape[0]
    assert masks["10.weight"].reshape(10, -1).any(dim=1).all()  # last layer's outputs kept
    # a removed filter takes the consumer's input slice along; its bias and BN scale/shift
    # stay (retrained, counted as kept), as in torchprune
    dead = ~masks["0.weight"].reshape(32, -1).any(dim=1)
    assert dead.any() and not masks["3.weight"][:, dead].any()
    assert not any(name.endswith("bias") or name.startswith(("1.", "4.")) for name in masks)
    # the same keep fraction in every layer, up to one filter
    fractions = [float(masks[f"{n}.weight"].reshape(32, -1).any(1).float().mean()) for n in "037"]
    assert max(fractions) - min(fractions) <= 1 / 32 + 1e-9


def test_filter_removal_order_is_ascending_l1_with_zero_filters_first():
    weight = torch.tensor([[3.0, -1.0], [0.0, 0.0], [0.5, 0.1], [-2.0, 0.0]])
    assert filter_removal_order(weight).tolist() == [1, 2, 3, 0]


def _linear_with(weight: list[list[float]]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight), bias=True)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.fill_(5.0)  # the bias is excluded from z
    return layer


def test_sipp_and_pfp_scores_on_a_linear_layer_match_hand_computation():
    # W = [[1, 2, 4], [1, 1, -1]]; inputs x1 = (1, 1, 1), x2 = (2, 1, 0).
    # x1: f0 z+ = 7 -> g = 1/7, 2/7, 4/7;  f1 z+ = 2, z- = -1 -> g = 1/2, 1/2, 1
    # x2: f0 z+ = 4 -> g = 1/2, 1/2, 0;    f1 z+ = 3, z- = 0 (~0) -> g = 2/3, 1/3, 0
    # SiPP: max over x per weight; PFP: max over x and filters per input channel
    layer = _linear_with([[1, 2, 4], [1, 1, -1]])
    sample = [(torch.tensor([[1.0, 1.0, 1.0], [2.0, 1.0, 0.0]]), torch.zeros(2))]
    sipp = weight_sensitivities(nn.Sequential(layer), sample)["0"]
    assert sipp.patches == 1
    torch.testing.assert_close(
        sipp.scores, torch.tensor([[1 / 2, 1 / 2, 4 / 7], [2 / 3, 1 / 2, 1.0]])
    )
    pfp = channel_sensitivities(nn.Sequential(layer), sample)["0"]
    torch.testing.assert_close(pfp.scores, torch.tensor([2 / 3, 1 / 2, 1.0]))


def test_negative_inputs_use_the_doubled_batch():
    # x3 = (-1, 0, 0): a+ = 0 contributes nothing; -a- = (1, 0, 0) gives z+ = 1 -> g00 = g10 = 1.
    layer = _linear_with([[1, 2, 4], [1, 1, -1]])
    sample = [(torch.tensor([[1.0, 1.0, 1.0], [2.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]), torch.zeros(3))]
    scores = weight_sensitivities(nn.Sequential(layer), sample)["0"].scores
    torch.testing.assert_close(scores, torch.tensor([[1.0, 1 / 2, 4 / 7], [1.0, 1 / 2, 1.0]]))


def _g_by_loops(weight: torch.Tensor, image: torch.Tensor, padding: int) -> torch.Tensor:
    """g[f, c, i, j, p] straight from the definition, one patch at a time (no vectorization)."""
    filters, channels, kh, kw = weight.shape
    padded = F.pad(image, (padding,) * 4)
    out_h, out_w = padded.shape[1] - kh + 1, padded.shape[2] - kw + 1
    g = torch.zeros(filters, channels, kh, kw, out_h * out_w, dtype=torch.float64)
    for f in range(filters):
        for y in range(out_h):
            for x in range(out_w):
                patch = padded[:, y : y + kh, x : x + kw].double()
                w = weight[f].double()
                z_pos = (w.clamp(min=0) * patch).sum()
                z_neg = (w.clamp(max=0) * patch).sum()
                for c in range(channels):
                    for i in range(kh):
                        for j in range(kw):
                            value = w[c, i, j] * patch[c, i, j]
                            denominator = z_pos if w[c, i, j] > 0 else z_neg
                            if abs(float(denominator)) > 1e-12 and w[c, i, j] != 0:
                                g[f, c, i, j, y * out_w + x] = value / denominator
    return g


def test_sipp_and_pfp_scores_on_a_conv_layer_match_the_definition():
    torch.manual_seed(3)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    images = torch.rand(2, 2, 4, 4)  # nonnegative inputs: no doubled batch
    g = torch.stack([_g_by_loops(conv.weight.detach(), image, 1) for image in images])
    expected_sipp = g.mean(dim=-1).amax(dim=0)
    expected_pfp = g.amax(dim=(0, 1, 3, 4, 5))
    sample = [(images, torch.zeros(2))]
    sipp = weight_sensitivities(nn.Sequential(conv), sample)["0"]
    pfp = channel_sensitivities(nn.Sequential(conv), sample)["0"]
    assert sipp.patches == pfp.patches == 16
    torch.testing.assert_close(sipp.scores.double(), expected_sipp, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pfp.scores.double(), expected_pfp, rtol=1e-5, atol=1e-6)


def test_sensitivities_do_not_depend_on_chunking():
    model = conv_net()
    sample = sample_for()
    small = channel_sensitivities(model, sample, max_elements=4096)
    large = channel_sensitivities(model, sample)
    for name in large:
        torch.testing.assert_close(small[name].scores, large[name].scores)
    small = weight_sensitivities(model, sample, max_elements=4096)
    large = weight_sensitivities(model, sample)
    for name in large:
        torch.testing.assert_close(small[name].scores, large[name].scores)


def test_pfp_allocation_formula_and_counts_grow_with_budget():
    scores = torch.tensor([0.5, 0.25, 0.25, 0.0], dtype=torch.float64)
    budget = ChannelBudget(scores, patches=4, kernel_area=9)
    alpha = 6 * math.log(8 * 5 * 9 / 1e-16)
    assert budget.coefficient == pytest.approx(alpha * 1.0)
    epsilon = 50.0
    m = math.ceil(3 * (6 + 2 * epsilon) * budget.coefficient / epsilon**2)
    expected = math.ceil(sum(1 - (1 - p) ** m for p in (0.5, 0.25, 0.25, 0.0)))
    assert budget.kept(epsilon) == min(4, max(1, expected))
    assert budget.kept(1e-6) == 3  # channels with s_j = 0 are never sampled
    assert budget.kept(1e12) == 1
    # per-layer counts grow with the budget (smaller epsilon, larger network)
    model = conv_net()
    found = channel_sensitivities(model, sample_for())
    budgets = {
        n: ChannelBudget(r.scores.double(), r.patches, getattr(model, n).weight[0].numel())
        for n, r in found.items()
    }
    counts = [per_layer_kept(budgets, eps) for eps in (1e4, 1e3, 1e2, 10.0, 1.0)]
    for looser, tighter in zip(counts, counts[1:], strict=False):
        assert all(tighter[n] >= looser[n] for n in budgets)
    assert counts[0] != counts[-1]
    # and so do the kept channels of the pruned network
    pfp = default_registry().create("PFP")
    kept = [
        {
            n: int(m.reshape(m.shape[0], m.shape[1], -1).any(0).any(-1).sum())
            for n, m in pfp.prune(model, ratio, sample_for()).items()
            if n.endswith("weight") and n.split(".")[0] in budgets
        }
        for ratio in (0.7, 0.5, 0.3)
    ]
    for smaller, larger in zip(kept, kept[1:], strict=False):
        assert all(larger[n] >= smaller[n] for n in smaller)


def test_pfp_removes_input_channels_and_their_producers():
    model = conv_net(width=32)
    masks = default_registry().create("PFP").prune(model, 0.5, sample_for())
    assert prune_ratio(model, masks, parameter_count(model)) == pytest.approx(0.5, abs=0.015)
    dead_inputs = ~masks["7.weight"].transpose(0, 1).reshape(32, -1).any(dim=1)
    assert dead_inputs.any()
    assert not masks["3.weight"][dead_inputs].any()  # a dead input channel takes its producer
    assert set(masks) == {f"{n}.weight" for n in ("0", "3", "7", "10")}  # no bias, no BN
    assert masks["3.weight"][~dead_inputs].reshape(int((~dead_inputs).sum()), -1).any(dim=1).all()


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


def test_structure_crosses_the_add_and_follows_flatten():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        Block(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(32, 5),
    ).eval()
    structure = channel_structure(model, torch.randn(2, 3, 4, 4))
    by_root = {group.root: group for group in structure.groups}
    inner = by_root["1.conv1"]
    assert [(m.module, m.role) for m in inner.members] == [
        ("1.conv1", PRODUCER),
        ("1.bn1", AFFINE),
        ("1.conv2", CONSUMER),
    ]
    stream = by_root["0"]  # the stem and the block's conv2 write into one residual stream
    assert {m.module for m in stream.role(PRODUCER)} == {"0", "1.conv2"}
    assert {m.module for m in stream.role(CONSUMER)} == {"1.conv1", "4"}
    assert structure.output_layers == {"4"}
    assert structure.input_factor("4") == 4  # 2x2 positions per channel after the flatten
    flat = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))
    flat_structure = channel_structure(flat, torch.randn(2, 3, 4, 4))
    masks = {"0.weight": torch.ones(4, 3, 3, 3, dtype=torch.bool)}
    masks["0.weight"][1] = False
    propagated = flat_structure.propagate(masks)
    assert propagated["3.weight"].sum() == 2 * 12 and not propagated["3.weight"][:, 4:8].any()
    assert set(propagated) == {"0.weight", "3.weight"}  # the removed filter's bias stays


def test_sample_set_takes_at_most_half_the_val_split():
    """|S| by the size rule, capped as torchprune caps it: ceil(0.5 * len(val))."""
    model = conv_net()
    rule = sample_size(model, (2, 8, 8))
    assert rule > 60
    assert sample_size(model, (2, 8, 8), available=4 * rule) == rule
    assert sample_size(model, (2, 8, 8), available=101) == 51
    assert sample_size(model, (2, 8, 8), available=1) == 1
