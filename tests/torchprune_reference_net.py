"""The fixed network and sample S behind tests/fixtures/torchprune_reference_resnet20.json.

Defined once here: tests/fixtures/make_torchprune_reference.py (which runs torchprune's own FT
and PFP code on it) and tests/test_pruning_torchprune_reference.py (which runs robustprune's)
both build them with ``reference_network`` and ``reference_sample``.

The network is robustprune's resnet20 at the digits suite's input (1x8x8, 10 classes). Its
values do not come from an init routine: every parameter and BatchNorm statistic is drawn from
one seeded generator, in ``named_parameters`` / ``named_buffers`` order, so the network stays the
same if a constructor's init changes; BatchNorm gets distinct scales, shifts and statistics so
that no two filters tie. S is ``SAMPLE_SIZE`` images of the digits val split, drawn and
normalized by ``robustprune.pruning.draw_sample`` with ``SAMPLE_SEED``, sized as torchprune
sizes S (``SAMPLE_SIZE``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from robustprune.data import load_dataset
from robustprune.models import create
from robustprune.pruning import Sample, draw_sample

ARCH = "resnet20"
DATASET = "digits"
NUM_CLASSES = 10
IN_CHANNELS = 1
INPUT_SIZE = (8, 8)
WEIGHT_SEED = 20
SAMPLE_SEED = 0
SAMPLE_SIZE = 68
"""|S| as torchprune sizes it on digits: its rule ceil(c ln(8 eta* / (delta / eta))) gives 166 for
this network, capped at half the val split, ceil(135 / 2) = 68 (experiment/util/data.py)."""
PRUNE_RATIO = 0.5


def reference_network() -> nn.Module:
    """resnet20 (1x8x8 in, 10 classes) with seeded values, in eval mode, on CPU, float32."""
    model = create(ARCH, num_classes=NUM_CLASSES, in_channels=IN_CHANNELS, input_size=INPUT_SIZE)
    generator = torch.Generator().manual_seed(WEIGHT_SEED)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in)
                )
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            elif isinstance(module, nn.BatchNorm2d):
                count = module.num_features
                module.weight.copy_(0.5 + torch.rand(count, generator=generator))
                module.bias.copy_(torch.randn(count, generator=generator) * 0.2)
                module.running_mean.copy_(torch.randn(count, generator=generator) * 0.2)
                module.running_var.copy_(0.5 + torch.rand(count, generator=generator))
    return model.eval()


def reference_sample() -> Sample:
    """S: ``SAMPLE_SIZE`` normalized digits val images with labels, one CPU batch."""
    data = load_dataset(DATASET)
    return draw_sample(data, SAMPLE_SIZE, SAMPLE_SEED, "cpu")


def layer_counts(model: nn.Module, weights: dict[str, torch.Tensor]) -> dict[str, dict[str, int]]:
    """Per prunable layer (qualified module name): output filters and input channels whose
    weight entries are not all zero, from ``weights`` (qualified weight name -> tensor)."""
    counts = {}
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        weight = weights[f"{name}.weight"]
        nonzero = weight.detach() != 0
        counts[name] = {
            "out": int(nonzero.flatten(1).any(1).sum()),
            "in": int(nonzero.transpose(0, 1).flatten(1).any(1).sum()),
        }
    return counts


def fingerprint(model: nn.Module, sample: Sample) -> dict[str, float]:
    """Sums that change when the network or S changes (the reference then no longer applies)."""
    params = [p.detach().double() for p in model.parameters()]
    buffers = [b.detach().double() for b in model.buffers() if b.is_floating_point()]
    return {
        "parameters": sum(p.numel() for p in params),
        "parameter_abs_sum": float(sum(p.abs().sum() for p in params)),
        "buffer_abs_sum": float(sum(b.abs().sum() for b in buffers)),
        "sample_abs_sum": float(sum(x.double().abs().sum() for x, _ in sample)),
        "sample_label_sum": int(sum(int(y.sum()) for _, y in sample)),
    }


def settings() -> dict:
    """What defines the reference network, its sample S and the target: stored in the reference
    file and checked against it."""
    return {
        "arch": ARCH,
        "dataset": DATASET,
        "input": [IN_CHANNELS, *INPUT_SIZE],
        "num_classes": NUM_CLASSES,
        "weight_seed": WEIGHT_SEED,
        "sample_seed": SAMPLE_SEED,
        "sample_size": SAMPLE_SIZE,
        "prune_ratio_target": PRUNE_RATIO,
    }
