"""Measured training-iteration times and the compute a paper suite needs, per architecture.

For every architecture of a suite this times one training iteration (normalize, augment for
CIFAR, forward, cross-entropy, backward, SGD step: what ``robustprune.train.train`` does per
step) at the recipe's batch size on synthetic images, and one evaluation forward pass
(``torch.no_grad``, batch 500 as in ``robustprune.train.evaluate``). From the medians it
derives the time per epoch and the device-hours of the suite:

* parents:  train-recipe epochs x seeds
* curves:   retrain-recipe epochs x grid steps x methods x seeds (every grid target is one
            prune-retrain step, in iterative and in one-shot mode alike)
* eval:     every parent and every curve point on the test set and on every shifted set, plus
            the noise similarity (eps levels x draws x (pruned nets + reference + parent) on the
            test set) when the suite asks for it

Not counted: pruner scoring on the sample set S, FLOP counts, latency of the compacted nets
and data loading/decoding (ImageNet, VOC decode JPEGs on the CPU). Each (parent, curve) is
one process's serial work; a cluster divides the wall time, not the device-hours.

    robustprune bench epoch-times --threads 2             # CIFAR-10 on CPU
    robustprune bench epoch-times --device cuda           # on a GPU
    robustprune bench epoch-times --suites imagenet voc2011 \\
        --iterations 2 --max-batch 16                     # big nets on CPU

(also ``python -m robustprune.bench.epoch_times``; nothing but the installed package is needed).

``--max-batch`` times a smaller batch when the recipe's does not fit in memory and scales the
time linearly to the recipe's batch; the table marks such rows (``timed batch``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tabulate import tabulate

from robustprune.metrics.similarity import DEFAULT_EPSILONS
from robustprune.models import create
from robustprune.pruning import default_registry
from robustprune.recipes import get_recipe
from robustprune.suite import load_suite
from robustprune.train import IGNORE_INDEX, cifar_augment, logits_of, normalize_batch


@dataclass(frozen=True)
class Data:
    """What the loaders of robustprune.data give (docs/datasets.md): sizes of the splits."""

    classes: int
    side: int  # input H = W in pixels
    train: int  # images in the training split (the loader holds 10 % out as val)
    test: int  # images in the test split
    shift_sizes: dict  # shift name prefix -> images (default: the test split's size)
    augment: bool
    segmentation: bool = False


DATA = {
    # 50,000 training images, 10 % held out as val; CIFAR-10.1 v6 has 2,000 images.
    "cifar10": Data(10, 32, 45_000, 10_000, {"cifar10_1": 2_000}, augment=True),
    # 1,281,167 training images, 10 % held out; the 50,000 val images are the test split.
    "imagenet": Data(1000, 224, 1_153_050, 50_000, {}, augment=False),
    # VOC2011 segmentation: train.txt 1,112 images (10 % held out), val.txt 1,111 (the test split).
    "voc2011": Data(21, 513, 1_001, 1_111, {}, augment=False, segmentation=True),
}
EVAL_BATCH = 500
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def median_seconds(step, iterations: int, device: torch.device) -> float:
    """Median wall time of ``step()`` over ``iterations`` runs after one warm-up run."""
    step()
    times = []
    for _ in range(iterations):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_arch(arch: str, data: Data, batch: int, iterations: int, device: torch.device):
    """(seconds per training iteration at ``batch``, seconds per evaluated image)."""
    model = create(arch, data.classes, 3, data.side).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, data.side, data.side, generator=generator).to(device)
    shape = (batch, data.side, data.side) if data.segmentation else (batch,)
    targets = torch.randint(0, data.classes, shape, generator=generator).to(device)

    def train_step() -> None:
        inputs = cifar_augment(images, generator) if data.augment else images
        logits = logits_of(model(normalize_batch(inputs, MEAN, STD)))
        loss = F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.train()
    train_s = median_seconds(train_step, iterations, device)
    eval_batch = min(EVAL_BATCH, batch)
    model.eval()

    @torch.no_grad()
    def eval_step() -> None:
        logits_of(model(normalize_batch(images[:eval_batch], MEAN, STD))).argmax(1)

    eval_s = median_seconds(eval_step, iterations, device)
    return train_s, eval_s / eval_batch


def iterations(args, arch: str) -> int:
    """``--iterations 5 wrn16_8=2``: 2 for wrn16_8, 5 for every other architecture."""
    pairs = dict(item.split("=", 1) if "=" in item else ("", item) for item in args.iterations)
    return int(pairs.get(arch, pairs.get("", 5)))


def suite_rows(name: str, args, device: torch.device) -> tuple[list, float]:
    suite = load_suite(name)
    data = DATA[suite.dataset]
    archs = [a for a in suite.archs if not args.archs or a in args.archs]
    methods = len(suite.method_names(default_registry().names()))
    seeds, steps = len(suite.seeds), len(suite.grid)
    eval_images = data.test + sum(
        next((n for p, n in data.shift_sizes.items() if s.startswith(p)), data.test)
        for s in suite.shifts
    )
    models_evaluated = seeds * (1 + methods * steps)
    similarity_images = 0
    if suite.similarity:  # 3 pruned nets, the next seed's parent, the parent itself
        subjects = 3 + (1 if seeds > 1 else 0) + 1
        similarity_images = len(DEFAULT_EPSILONS) * suite.similarity_draws * subjects * data.test
        similarity_images *= methods * seeds
    rows, total_h = [], 0.0
    for arch in archs:
        train = get_recipe(suite.train_recipe(arch))
        retrain = get_recipe(suite.retrain_recipe(arch))
        batch = train.batch_size
        if retrain.batch_size != batch:
            raise SystemExit(f"{name}/{arch}: train and retrain batch sizes differ")
        timed = min(batch, args.max_batch) if args.max_batch else batch
        try:
            step_s, image_eval_s = time_arch(arch, data, timed, iterations(args, arch), device)
        except (RuntimeError, MemoryError, ValueError) as error:  # out of memory, batch of 1 + BN
            print(f"{name}/{arch}: not measured: {str(error).splitlines()[0]}")
            continue
        step_s *= batch / timed
        epoch_s = step_s * (data.train // batch)
        parent_h = epoch_s * train.epochs * seeds / 3600
        curve_h = epoch_s * retrain.epochs * steps * methods * seeds / 3600
        eval_h = image_eval_s * (models_evaluated * eval_images + similarity_images) / 3600
        arch_h = parent_h + curve_h + eval_h
        total_h += arch_h
        print(f"  measured {name}/{arch}: {step_s * 1e3:.0f} ms/iteration", flush=True)
        rows.append(
            [name, arch, batch, timed, iterations(args, arch), f"{step_s * 1e3:.1f}", f"{epoch_s:.1f}",
             f"{image_eval_s * 1e3:.3f}", f"{parent_h:,.1f}", f"{curve_h:,.1f}",
             f"{eval_h:,.1f}", f"{arch_h:,.1f}"]
        )  # fmt: skip
    print(
        f"{name}: {seeds} seeds x {methods} methods x {steps} grid steps ({suite.mode}); "
        f"{data.train:,} training images/epoch; {models_evaluated} evaluated models per arch "
        f"x {eval_images:,} images; similarity {similarity_images:,} images per arch"
    )
    return rows, total_h


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Time the suites' networks and print the tables; ``argv`` defaults to ``sys.argv[1:]``."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    default = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=default, help=f"default: {default}")
    parser.add_argument("--suites", nargs="+", default=["cifar10"], choices=sorted(DATA))
    parser.add_argument("--archs", nargs="+", help="only these architectures")
    parser.add_argument(
        "--iterations",
        nargs="+",
        default=["5"],
        metavar="N|ARCH=N",
        help="timed iterations (median), e.g. 5 wrn16_8=2 (default 5)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--max-batch", type=int, help="time at most this batch, scale linearly")
    args = parser.parse_args(argv)
    known = sorted({arch for name in args.suites for arch in load_suite(name).archs})
    unknown = sorted(set(args.archs or ()) - set(known))
    if unknown:
        parser.error(
            f"--archs {' '.join(unknown)}: not in suite(s) {', '.join(args.suites)}, whose "
            f"architectures are {', '.join(known)}"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device {device} ({where}), {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}, median of {' '.join(args.iterations)} iterations after 1 warm-up")  # fmt: skip
    unit = "GPU" if device.type == "cuda" else "CPU"
    headers = ["suite", "arch", "batch", "timed batch", "iters", "ms/iter", "s/epoch", "eval ms/img",
               f"parents {unit}-h", f"curves {unit}-h", f"eval {unit}-h", f"total {unit}-h"]  # fmt: skip
    rows, totals = [], []
    for name in args.suites:
        suite_table, hours = suite_rows(name, args, device)
        rows += suite_table
        totals.append([name, f"{hours:,.0f}"])
    print(tabulate(rows, headers, tablefmt="github", disable_numparse=True))
    print(tabulate(totals, ["suite", f"measured archs, {unit}-hours"], tablefmt="github"))


if __name__ == "__main__":
    main()
