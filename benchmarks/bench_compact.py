"""How much of FT's and PFP's FLOP reduction becomes wall time once the networks are compacted.

    python benchmarks/bench_compact.py [--archs resnet20,wrn16_8,densenet22] [--methods FT,PFP]
        [--ratios 0.5,0.8] [--threads 1] [--batch-sizes 1,64] [--repeats 5] [--device cpu]

Random-init CIFAR-sized networks (3x32x32, 10 classes); S is one batch of ``--sample`` random
images. Each method prunes the parent once per ratio (one step, no retraining: speed does not
depend on the weights' values), ``robustprune.pruning.compact`` cuts the dead channels out,
and the parent and the compacted network are timed alternately, repeat by repeat
(``robustprune.metrics.latency``). One line per (arch, method, ratio):

- ``prune``: achieved prune ratio (share of the parent's parameters removed by the masks);
- ``FLOP red.``: ``robustprune.metrics.cost.flop_reduction`` of the masked network (nonzero
  weights reading live channels: what records report);
- ``dense FLOP red.``: the same for the compacted network counted densely (every weight of
  every remaining layer, zeros included: what the hardware still multiplies);
- ``params``: parent -> kept by the masks -> compacted network (zeros inside live channels stay);
- latencies: median ms per batch of the parent and the compacted net, and their ratio;
- ``ideal``: the speedup the FLOP reduction promises, 1 / (1 - FLOP red.).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

from robustprune.metrics.cost import flop_reduction
from robustprune.metrics.latency import measure_latencies
from robustprune.models import create
from robustprune.pruning import compact, default_registry, kept_count, parameter_count


def dense_macs(model: nn.Module, input_shape: tuple[int, ...], device: torch.device) -> int:
    """Multiply-accumulates of every Conv2d/Linear for one input, zeros included."""
    total = 0

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.weight[0].numel()  # in_channels / groups * kernel area
            total += output[0].numel() * per_output
        else:
            total += output[0].numel() * module.weight.shape[1]

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, *input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="resnet20,wrn16_8,densenet22")
    parser.add_argument("--methods", default="FT,PFP")
    parser.add_argument("--ratios", default="0.5,0.8", help="target prune ratios (fractions)")
    parser.add_argument("--size", type=int, default=32, help="input height = width in pixels")
    parser.add_argument("--sample", type=int, default=64, help="|S|, random images")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per net and batch")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    shape = (3, args.size, args.size)
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    print(
        f"# device {device}, torch threads {torch.get_num_threads()}, batch sizes {batch_sizes}, "
        f"median of {args.repeats} alternating repeats; load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    headers = ["arch", "method", "target", "prune", "FLOP red.", "dense FLOP red.", "params"]
    for batch in batch_sizes:
        headers += [f"parent ms b{batch}", f"compact ms b{batch}", f"speedup b{batch}"]
    headers += ["ideal"]
    print(" | ".join(headers))
    for arch in args.archs.split(","):
        torch.manual_seed(0)
        parent = create(arch, 10, 3, args.size).to(device).eval()
        generator = torch.Generator().manual_seed(1)
        sample = [
            (
                torch.randn(args.sample, *shape, generator=generator).to(device),
                torch.zeros(args.sample, dtype=torch.long, device=device),
            )
        ]
        parent_macs = dense_macs(parent, shape, device)
        for method in args.methods.split(","):
            for ratio in (float(r) for r in args.ratios.split(",")):
                started = time.perf_counter()
                masks = default_registry().create(method).prune(parent, ratio, sample)
                prune_s = time.perf_counter() - started
                small = compact(parent, masks, sample[0][0][:2])
                masked = _masked(parent, masks)
                reduction = flop_reduction(masked, parent, args.size, 3, device)
                dense = 1 - dense_macs(small, shape, device) / parent_macs
                times = measure_latencies(
                    {"parent": parent, "compact": small}, shape, batch_sizes, args.repeats
                )
                row = [
                    arch,
                    method,
                    f"{ratio:.2f}",
                    f"{1 - kept_count(parent, masks) / parameter_count(parent):.3f}",
                    f"{reduction:.3f}",
                    f"{dense:.3f}",
                    f"{parameter_count(parent) / 1e6:.3f}M -> "
                    f"{kept_count(parent, masks) / 1e6:.3f}M -> {parameter_count(small) / 1e6:.3f}M",
                ]
                for batch in batch_sizes:
                    before = statistics.median(times["parent"][batch]) * 1e3
                    after = statistics.median(times["compact"][batch]) * 1e3
                    row += [f"{before:.1f}", f"{after:.1f}", f"{before / after:.2f}x"]
                row += [f"{1 / (1 - reduction):.2f}x"]
                print(" | ".join(row) + f"  (pruned in {prune_s:.0f} s)", flush=True)
    load = os.getloadavg()
    print(f"# load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def _masked(model: nn.Module, masks: dict) -> nn.Module:
    import copy

    from robustprune.pruning import apply_masks

    return apply_masks(copy.deepcopy(model), masks)


if __name__ == "__main__":
    main()
