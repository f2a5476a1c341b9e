"""Training throughput of robustprune.train.train next to a bare PyTorch loop doing the same steps.

    .venv/bin/python benchmarks/bench_engine.py [--epochs 5] [--repeats 3] [--threads N] [--device cpu]

Both loops train resnet20 on the embedded digits set from the same initial weights with the
registered "digits" recipe (batch size, SGD momentum / weight decay, per-iteration LR lambda),
normalize every batch with the train split's mean/std, and take the same number of steps
(no augmentation: digits has none). Runs alternate (engine, bare, bare, engine, ...) so that load
drift hits both; the median of ``--repeats`` runs is reported in images/s (wall clock and
process CPU time, the latter steadier on a shared machine), and the engine's overhead as
``bare throughput / engine throughput - 1`` in percent (target: <= 10 %), also best-of-N.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from robustprune import models
from robustprune.data import DatasetSplits, load_dataset
from robustprune.device import channels_last, default_device
from robustprune.recipes import Recipe, get_recipe
from robustprune.train import train


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Timing = tuple[float, float]  # (wall seconds, process CPU seconds)


def _timed(loop, *args) -> Timing:
    device = args[-1]
    _synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    loop(*args)
    _synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def engine_loop(
    model: nn.Module, data: DatasetSplits, recipe: Recipe, seed: int, device: torch.device
) -> None:
    """``robustprune.train.train`` running ``recipe``."""
    train(model, data, recipe, seed=seed, device=device)


def bare_loop(
    model: nn.Module, data: DatasetSplits, recipe: Recipe, seed: int, device: torch.device
) -> None:
    """A hand-written loop taking the same steps as the engine (no masks, no augmentation), in
    the engine's channels-last layout, so the difference is the engine's own overhead."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    images = data.train.images.to(device)
    labels = data.train.labels.to(device)
    mean = torch.tensor(data.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, -1, 1, 1)
    model.to(device).train()
    with channels_last(model):
        _bare_steps(model, images, labels, mean, std, recipe, generator, device)
    model.eval()


def _bare_steps(model, images, labels, mean, std, recipe, generator, device) -> None:
    """The bare loop's SGD steps."""
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )
    steps_per_epoch = max(1, len(labels) // recipe.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: recipe.lr_factor(step / steps_per_epoch)
    )
    for _ in range(recipe.epochs):
        order = torch.randperm(len(labels), generator=generator).to(device)
        for step in range(steps_per_epoch):
            index = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            inputs = (images[index].float() - mean) / std
            loss = F.cross_entropy(model(inputs), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="digits", help="registered recipe (default: digits)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each loop (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="default: CUDA if present, else CPU")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    data = load_dataset("digits")
    recipe = get_recipe(args.recipe).with_epochs(args.epochs)
    torch.manual_seed(args.seed)
    initial = models.create("resnet20", num_classes=10, in_channels=1, input_size=8)
    steps = recipe.epochs * max(1, len(data.train) // recipe.batch_size)
    images_per_run = steps * recipe.batch_size

    # Warm-up (allocator, kernels, first-call costs) for both loops; not timed.
    warm = recipe.with_epochs(1)
    loops = {"engine": engine_loop, "bare": bare_loop}
    for loop in loops.values():
        loop(copy.deepcopy(initial), data, warm, args.seed, device)

    times: dict[str, list[Timing]] = {name: [] for name in loops}
    for repeat in range(args.repeats):
        order = list(loops) if repeat % 2 == 0 else list(loops)[::-1]  # ABBA: no position bias
        for name in order:
            loop = loops[name]
            times[name].append(
                _timed(loop, copy.deepcopy(initial), data, recipe, args.seed, device)
            )

    def median(name: str, which: int) -> float:
        return statistics.median(timing[which] for timing in times[name])

    throughput = {name: images_per_run / median(name, 0) for name in loops}
    cpu_throughput = {name: images_per_run / median(name, 1) for name in loops}
    overhead = throughput["bare"] / throughput["engine"] - 1.0
    cpu_overhead = cpu_throughput["bare"] / cpu_throughput["engine"] - 1.0
    best_overhead = min(t[0] for t in times["engine"]) / min(t[0] for t in times["bare"]) - 1.0
    print(
        f"resnet20 on digits, recipe {recipe.name!r} (batch {recipe.batch_size}, {steps} steps, "
        f"{images_per_run} images per run), device {device}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}"
    )
    print(f"  {'':<7} {'wall images/s':>14} {'CPU images/s':>14}   runs (wall s / CPU s)")
    for name in loops:
        runs = ", ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in times[name])
        print(f"  {name:<7} {throughput[name]:14.0f} {cpu_throughput[name]:14.0f}   {runs}")
    print(
        f"  engine overhead: {100 * overhead:+.1f} % wall, {100 * cpu_overhead:+.1f} % CPU time"
        f", {100 * best_overhead:+.1f} % best-of-{args.repeats} wall  (target <= 10 %)"
    )
    return {
        "engine": throughput["engine"],
        "bare": throughput["bare"],
        "overhead": overhead,
        "cpu_overhead": cpu_overhead,
        "best_overhead": best_overhead,
    }


if __name__ == "__main__":
    main()
