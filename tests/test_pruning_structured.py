"""Filter methods prune whole units only, as torchprune's FilterNet does: every removed weight
entry lies in a removed output filter or a removed input channel, and no bias or BatchNorm
entry is ever masked (they are retrained and count as kept in the prune ratio)."""

from __future__ import annotations

import pytest
import torch
from tiny import two_conv_net
from torch import Tensor

from robustprune.models import create, list_models, model_info
from robustprune.pruning import (
    apply_masks,
    default_registry,
    parameter_count,
    prunable_weights,
    prune_ratio,
    validate_masks,
)
from robustprune.pruning.masks import combine_masks

NOT_CIFAR = {"imagenet", "segmentation"}
"""Model families built for other inputs than CIFAR's 32x32."""
SLOW = {"resnet110", "vgg16_bn", "wrn16_8"}
STRUCTURED = ("FT", "PFP")


def cifar_archs() -> list:
    names = [name for name in list_models() if model_info(name).family not in NOT_CIFAR]
    return [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in names]


def off_structure(mask: Tensor) -> int:
    """Removed entries of a weight mask that lie in a kept output filter and a kept input
    channel (0 for an exactly filter/channel structured mask)."""
    filters = mask.reshape(mask.shape[0], -1).any(dim=1)
    channels = mask.transpose(0, 1).reshape(mask.shape[1], -1).any(dim=1)
    structured = filters[:, None] & channels[None, :]
    structured = structured.view(*structured.shape, *([1] * (mask.dim() - 2))).expand_as(mask)
    return int((structured & ~mask).sum())


def test_off_structure_counts_single_entries_inside_kept_units():
    mask = torch.ones(4, 3, 3, 3, dtype=torch.bool)
    mask[1] = False  # a filter
    mask[:, 2] = False  # a channel
    assert off_structure(mask) == 0
    mask[0, 0, 1, 1] = False  # one tap inside a kept filter and a kept channel
    assert off_structure(mask) == 1


@pytest.mark.parametrize("method", STRUCTURED)
@pytest.mark.parametrize("arch", cifar_archs())
def test_filter_methods_prune_whole_units_and_never_batchnorm(arch: str, method: str) -> None:
    torch.manual_seed(0)
    model = create(arch, num_classes=10, in_channels=3, input_size=8).eval()
    generator = torch.Generator().manual_seed(1)
    sample = [(torch.randn(32, 3, 8, 8, generator=generator), torch.zeros(32, dtype=torch.long))]
    parent_count = parameter_count(model)
    weights = prunable_weights(model)
    pruner = default_registry().create(method)
    previous: dict = {}
    for ratio in (0.5, 0.8):
        masks = combine_masks(pruner.prune(model, ratio, sample), previous)
        validate_masks(method, model, masks, ratio, parent_count)
        not_weights = {name for name, mask in masks.items() if name not in weights}
        assert not_weights == set(), (arch, method, ratio, sorted(not_weights)[:3])
        off = {name: off_structure(mask) for name, mask in masks.items()}
        assert sum(off.values()) == 0, (arch, method, ratio, {n: c for n, c in off.items() if c})
        apply_masks(model, masks)
        previous = masks


def test_batchnorm_of_removed_filters_counts_as_kept() -> None:
    """The paper's ratio: a removed filter's bias and BN scale and shift stay in the count."""
    model = two_conv_net(in_channels=3)
    sample = [(torch.randn(32, 3, 8, 8), torch.zeros(32, dtype=torch.long))]
    masks = default_registry().create("FT").prune(model, 0.5, sample)
    removed_filters = int((~masks["0.weight"].reshape(16, -1).any(dim=1)).sum())
    assert removed_filters > 0 and set(masks) == {"0.weight", "3.weight", "8.weight"}
    removed_weights = sum(int((~mask).sum()) for mask in masks.values())
    count = parameter_count(model)
    assert prune_ratio(model, masks, count) == pytest.approx(removed_weights / count, rel=1e-12)
    # one filter with its consumer slice is ~3 % of this net: the target is met within half that
    assert prune_ratio(model, masks, count) == pytest.approx(0.5, abs=0.015)


def propagate_group_by_group(structure, masks: dict) -> dict:
    """The rule of ``ChannelStructure.propagate`` applied the plain way, one member of one group
    after the other until a whole pass changes nothing: the reference the flat propagation must
    equal. A consumer's channel goes when no producer upstream of it writes it; a producer's
    filter goes when no consumer downstream of it reads it (unless the group is open-ended)."""
    from robustprune.pruning.masks import kept_entries, weight_name
    from robustprune.pruning.structure import CONSUMER, PRODUCER

    result = {name: mask.clone() for name, mask in masks.items()}

    def mask(module: str) -> Tensor:
        name = weight_name(module)
        if name not in result:
            result[name] = torch.ones_like(structure._parameters[name], dtype=torch.bool)
        return result[name]

    def rows(member) -> Tensor:
        weight = mask(member.module)
        return weight.reshape(weight.shape[0], -1).any(dim=1)[member.index]

    def columns(member) -> Tensor:
        weight = mask(member.module)
        return weight.transpose(0, 1).reshape(weight.shape[1], -1).any(dim=1)[member.index]

    while True:
        before = kept_entries(result)
        for group in structure.groups:
            producers, consumers = group.role(PRODUCER), group.role(CONSUMER)

            def linked(producer, consumer, group=group, producers=producers) -> bool:
                upstream = [p for p in producers if (p.module, consumer.module) in group.reads]
                return not upstream or producer in upstream

            for consumer in consumers:
                written = torch.zeros(group.width, dtype=torch.bool)
                for producer in producers:
                    if linked(producer, consumer):
                        written[producer.channel[rows(producer)]] = True
                mask(consumer.module)[:, consumer.index[~written[consumer.channel]]] = False
            for producer in producers:
                downstream = [c for c in consumers if linked(producer, c)]
                if group.reaches_output or not downstream:
                    continue
                read = torch.zeros(group.width, dtype=torch.bool)
                for consumer in downstream:
                    read[consumer.channel[columns(consumer)]] = True
                mask(producer.module)[producer.index[~read[producer.channel]]] = False
        if kept_entries(result) == before:
            return result


@pytest.mark.parametrize("arch", cifar_archs())
def test_flat_propagation_equals_propagating_group_by_group(arch: str) -> None:
    """Judging every group at once per round reaches the fixed point the plain loop reaches,
    on random removals of single entries, whole filters and whole input channels."""
    from robustprune.pruning.structure import channel_structure

    torch.manual_seed(0)
    model = create(arch, num_classes=10, in_channels=3, input_size=8).eval()
    structure = channel_structure(model, torch.randn(2, 3, 8, 8))
    generator = torch.Generator().manual_seed(1)
    for trial in range(6):
        masks = {}
        for name, weight in prunable_weights(model).items():
            keep = torch.rand(weight.shape, generator=generator) > 0.3 * (trial % 3) / 2
            filters = torch.rand(weight.shape[0], generator=generator) < 0.15 * trial
            channels = torch.rand(weight.shape[1], generator=generator) < 0.1 * trial
            keep[filters] = False
            keep[:, channels] = False
            masks[name] = keep
        expected = propagate_group_by_group(structure, masks)
        found = structure.propagate(masks)
        assert found.keys() == expected.keys()
        for name in expected:
            assert torch.equal(found[name], expected[name]), (arch, trial, name)
