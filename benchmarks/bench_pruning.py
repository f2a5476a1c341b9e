"""Wall time of one SiPP and one PFP pruning step as a multiple of one forward+backward over S.

    python benchmarks/bench_pruning.py [--arch resnet20] [--size 32] [--sample 256] [--device cpu]

Random weights and inputs (the cost does not depend on training); the sample set S is one
batch of ``--sample`` CIFAR-sized images. Prints one line per method.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from robustprune.models import create
from robustprune.pruning import default_registry


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_of(repeats: int, device: torch.device, run) -> float:
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        run()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet20")
    parser.add_argument("--size", type=int, default=32, help="input height = width in pixels")
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--sample", type=int, default=256, help="|S|, images")
    parser.add_argument("--ratio", type=float, default=0.5, help="target prune ratio of the step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    torch.manual_seed(0)
    model = create(args.arch, num_classes=10, in_channels=args.channels, input_size=args.size).to(device)
    inputs = torch.randn(args.sample, args.channels, args.size, args.size, device=device)
    targets = torch.randint(0, 10, (args.sample,), device=device)
    sample = [(inputs, targets)]

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), targets).backward()

    model.train()
    forward_backward()  # warm-up (allocator, kernels)
    reference = _best_of(args.repeats, device, forward_backward)
    model.zero_grad(set_to_none=True)
    print(f"{args.arch} {args.channels}x{args.size}x{args.size} |S|={args.sample} on {device} "
          f"({torch.get_num_threads()} threads): forward+backward over S = {reference * 1e3:.1f} ms")
    registry = default_registry()
    for name in ("SiPP", "PFP"):
        pruner = registry.create(name)
        pruner.prune(model, args.ratio, sample)  # warm-up
        seconds = _best_of(args.repeats, device, lambda p=pruner: p.prune(model, args.ratio, sample))
        print(f"{name:5s} step: {seconds * 1e3:8.1f} ms = {seconds / reference:5.2f} x forward+backward")


if __name__ == "__main__":
    main()
