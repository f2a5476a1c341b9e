"""The sample set S that SiPP and PFP score with: its type, size rule and draw from the val split.

``C_CONSTANT`` and ``DELTA`` are the c and delta of the methods' guarantees, shared by the size
rule here and PFP's per-layer budgets (pfp.py).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robustprune.data import normalize
from robustprune.pruning.masks import prunable_modules

Sample = list[tuple[Tensor, Tensor]]
"""The sample set S as a pruner receives it: normalized ``(inputs, targets)`` batches on the
model's device."""

S_SHARE_OF_VAL = 0.5
"""At most this share of the val split goes into S (torchprune, experiment/util/data.py:176-178:
``min(size_s, ceil(0.5 * len(valid)))``); the rest stays a validation set."""
C_CONSTANT = 3.0
"""The constant c of the sample-size rule and of PFP's alpha_l."""
DELTA = 1e-16
"""The failure probability delta of the methods' guarantees."""


def output_activations(model: nn.Module, input_shape: tuple[int, int, int]) -> list[int]:
    """Output activations per sample of every prunable layer (C_out * H_out * W_out), in call order."""
    counts: list[int] = []
    handles = [
        module.register_forward_hook(lambda _m, _i, out: counts.append(out[0].numel()))
        for module in prunable_modules(model).values()
    ]
    parameter = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=parameter.device, dtype=parameter.dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return counts


def sample_size(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    available: int | None = None,
    c: float = C_CONSTANT,
    delta: float = DELTA,
) -> int:
    """|S| = ceil(c ln(8 eta* / (delta / eta))), eta = total and eta* = largest per-layer output
    activations per sample over prunable layers; capped, as torchprune does, at half of
    ``available`` (the val split's size), rounded up (``S_SHARE_OF_VAL``)."""
    counts = output_activations(model, input_shape)
    total, largest = sum(counts), max(counts)
    size = math.ceil(c * math.log(8 * largest / (delta / total)))
    if available is None:
        return size
    return max(1, min(size, math.ceil(S_SHARE_OF_VAL * available)))


def draw_sample(
    data, size: int, seed: int, device: torch.device | str, batch_size: int = 256
) -> Sample:
    """``size`` images of ``data.val`` drawn without replacement (seeded), normalized, in batches
    on ``device``: the ``sample`` argument of ``Pruner.prune``."""
    count = len(data.val)
    if count == 0:
        raise ValueError(f"dataset {data.name!r} has an empty val split; pruners need a sample set")
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(count, generator=generator)[: min(size, count)].sort().values
    batches = []
    for start in range(0, len(index), batch_size):
        images, labels = data.val.batch(index[start : start + batch_size], device)
        batches.append((normalize(images, data.mean, data.std), labels))
    return batches
