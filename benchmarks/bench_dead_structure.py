"""How much of a pruned network is kept although it is dead: the share of all parameters that are
kept after one prune step while their gradient over S is identically zero, and the share removed
as single weights inside kept filters and channels (0 for filter methods, as in torchprune).

    python benchmarks/bench_dead_structure.py [--archs resnet20,densenet22] [--epochs 4]

Each architecture is trained briefly on the embedded digits data (``--epochs`` of the digits
recipe), then every method prunes it once to each ``--ratios`` target with the sample set S the
suites use. The measurement is written here, independently of ``robustprune.pruning.dead``,
so the same script can be pointed at an older checkout (``PYTHONPATH=/path/to/old/checkout``)
for the before/after comparison in docs/pruning.md. Prints one line per (arch, method, ratio).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from torch import nn

from robustprune.data import load_dataset
from robustprune.models import create
from robustprune.pruning import (
    default_registry,
    draw_sample,
    parameter_count,
    prune_ratio,
    sample_size,
)
from robustprune.recipes import get_recipe
from robustprune.train import train


def kept_but_dead(model: nn.Module, masks: dict, sample: list) -> int:
    """Kept parameter entries whose gradient over S is identically zero (masked network, eval)."""
    masked = {}
    for name, parameter in model.named_parameters():
        value = parameter.detach()
        if name in masks:
            value = value * masks[name].to(value.dtype)
        masked[name] = value.clone().requires_grad_(True)
    state = {**masked, **dict(model.named_buffers())}
    total = {name: torch.zeros_like(value) for name, value in masked.items()}
    model.eval()
    generator = torch.Generator().manual_seed(0)
    for inputs, _targets in sample:
        outputs = torch.func.functional_call(model, state, (inputs,))
        projection = (outputs * torch.randn(outputs.shape, generator=generator)).sum()
        gradients = torch.autograd.grad(projection, list(masked.values()), allow_unused=True)
        for name, gradient in zip(masked, gradients, strict=True):
            if gradient is not None:
                total[name] += gradient.abs()
    dead = 0
    for name, gradient in total.items():
        kept = masks.get(name, torch.ones_like(gradient, dtype=torch.bool))
        dead += int((kept & (gradient == 0)).sum())
    return dead


def removed_inside_kept_units(masks: dict) -> int:
    """Removed weight entries that lie in a kept output filter and a kept input channel."""
    inside = 0
    for mask in masks.values():
        if mask.dim() < 2:
            continue
        filters = mask.reshape(mask.shape[0], -1).any(dim=1)
        channels = mask.transpose(0, 1).reshape(mask.shape[1], -1).any(dim=1)
        units = (filters[:, None] & channels[None, :]).view(
            *mask.shape[:2], *([1] * (mask.dim() - 2))
        )
        inside += int((units.expand_as(mask) & ~mask).sum())
    return inside


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="resnet20,densenet22")
    parser.add_argument("--methods", default="WT,SiPP,FT,PFP")
    parser.add_argument("--ratios", default="0.5,0.8")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = load_dataset("digits")
    recipe = dataclasses.replace(get_recipe("digits"), epochs=args.epochs)
    shape = (data.in_channels, *data.input_size)
    for arch in args.archs.split(","):
        torch.manual_seed(0)
        model = create(arch, data.num_classes, data.in_channels, data.input_size)
        started = time.perf_counter()
        train(model, data, recipe, seed=0, device="cpu")
        trained = time.perf_counter() - started
        sample = draw_sample(data, sample_size(model, shape, available=len(data.val)), 0, "cpu")
        count = parameter_count(model)
        print(
            f"{arch}: trained {args.epochs} epochs in {trained:.0f} s, |S| = "
            f"{sum(len(t) for _, t in sample)}, {count} parameters",
            flush=True,
        )
        for method in args.methods.split(","):
            for ratio in (float(r) for r in args.ratios.split(",")):
                started = time.perf_counter()
                masks = default_registry().create(method).prune(model, ratio, sample)
                seconds = time.perf_counter() - started
                dead = kept_but_dead(model, masks, sample)
                inside = removed_inside_kept_units(masks)
                print(
                    f"  {method:5s} target {ratio:.2f} achieved "
                    f"{prune_ratio(model, masks, count):.4f}  kept but dead "
                    f"{100 * dead / count:5.2f} %  removed inside kept units "
                    f"{100 * inside / count:5.2f} % of all parameters  (step {seconds:.1f} s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
