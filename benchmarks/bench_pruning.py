"""Wall time of one pruning step per method as a multiple of one forward+backward over S.

    python benchmarks/bench_pruning.py [--arch resnet20] [--size 32] [--sample 256] [--device cpu]
    python benchmarks/bench_pruning.py --methods WT,SiPP,FT,PFP --repeats 3
    python benchmarks/bench_pruning.py --dataset digits --arch vgg11_bn [--methods PFP]
    python benchmarks/bench_pruning.py --scores-only --methods SiPP,PFP   # the scores alone

Random weights (the cost does not depend on training). Without ``--dataset`` the sample set S
is one batch of ``--sample`` random CIFAR-sized images; with it, S is drawn from that dataset's
val split at the size rule of ``robustprune.pruning.sample_size`` (what the suites use), and
the input shape is the dataset's. Prints one line per method: the median step time of
``--repeats`` runs and its split into phases (of the median run): scores (SiPP's and PFP's
sensitivities), trace (the channel groups, traced once per step by every method), dead
structure (passes over S, with their count) and search (the rest: the knob search's masks,
propagation and ratios). ``--scores-only`` times just the scores of the data-informed methods
named (SiPP, PFP), the part of their step that depends on neither the search nor the passes.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import torch
import torch.nn.functional as F

from robustprune.models import create
from robustprune.pruning import default_registry, draw_sample, sample_size

SCORES = {
    "SiPP": ("robustprune.pruning.sipp", "weight_sensitivities"),
    "PFP": ("robustprune.pruning.pfp", "channel_sensitivities"),
}
"""Method -> its score function (module, attribute): the scores phase, and ``--scores-only``."""

PHASES = {
    "scores": list(SCORES.values()),
    "trace": [
        ("robustprune.pruning.scored", "channel_structure"),
        ("robustprune.pruning.pfp", "channel_structure"),
        ("robustprune.pruning.budget", "channel_structure"),  # weight methods' closure
    ],
    "dead structure": [("robustprune.pruning.dead", "DeadStructure.probe")],
}
"""Phase -> the functions whose time it is (module, attribute path), wrapped while measuring."""


class PhaseClock:
    """Seconds and calls per phase of ``PHASES``, by wrapping the phase functions in place."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._originals: list[tuple[object, str, object]] = []

    def __enter__(self) -> PhaseClock:
        for phase, targets in PHASES.items():
            for module_name, path in targets:
                owner = importlib.import_module(module_name)
                *parents, attribute = path.split(".")
                for parent in parents:
                    owner = getattr(owner, parent)
                original = getattr(owner, attribute)
                self._originals.append((owner, attribute, original))
                setattr(owner, attribute, self._timed(phase, original))
        return self

    def __exit__(self, *_exc) -> None:
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)

    def reset(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.calls = dict.fromkeys(PHASES, 0)

    def _timed(self, phase: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started
                self.calls[phase] = self.calls.get(phase, 0) + 1

        return timed


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
    parser.add_argument("--sample", type=int, default=256, help="|S|, images (random inputs)")
    parser.add_argument(
        "--dataset",
        default=None,
        help="draw S from this dataset's val split at the sample-size rule",
    )
    parser.add_argument("--methods", default="SiPP,PFP", help="comma-separated pruner names")
    parser.add_argument("--ratio", type=float, default=0.5, help="target prune ratio of the step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--scores-only", action="store_true", help="time SiPP's / PFP's scores, not the step"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.scores_only:
        unknown = [name for name in args.methods.split(",") if name not in SCORES]
        if unknown:
            parser.error(
                f"--scores-only: {', '.join(unknown)} has no scores; choose from {', '.join(SCORES)}"
            )

    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.dataset is None:
        shape = (args.channels, args.size, args.size)
        model = create(args.arch, num_classes=10, in_channels=shape[0], input_size=shape[1]).to(
            device
        )
        inputs = torch.randn(args.sample, *shape, device=device)
        targets = torch.randint(0, 10, (args.sample,), device=device)
        sample = [(inputs, targets)]
    else:
        from robustprune.data import load_dataset

        data = load_dataset(args.dataset)
        shape = tuple(draw_sample(data, 1, seed=0, device=device)[0][0].shape[1:])
        model = create(
            args.arch, num_classes=data.num_classes, in_channels=shape[0], input_size=shape[1]
        ).to(device)
        size = sample_size(model, shape, available=len(data.val))
        sample = draw_sample(data, size, seed=0, device=device)
        inputs = torch.cat([images for images, _ in sample])
        targets = torch.cat([labels for _, labels in sample]).long()

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), targets).backward()

    model.train()
    forward_backward()  # warm-up (allocator, kernels)
    reference = _best_of(args.repeats, device, forward_backward)
    model.zero_grad(set_to_none=True)
    source = f" from {args.dataset}" if args.dataset else ""
    print(
        f"{args.arch} {'x'.join(map(str, shape))} |S|={inputs.shape[0]}{source} on {device} "
        f"({torch.get_num_threads()} threads): forward+backward over S = {reference * 1e3:.1f} ms"
    )
    if args.scores_only:
        for name in args.methods.split(","):
            module_name, attribute = SCORES[name]
            scores = getattr(importlib.import_module(module_name), attribute)
            scores(model, sample)  # warm-up
            seconds = _best_of(args.repeats, device, lambda s=scores: s(model, sample))
            print(
                f"{name:5s} scores: {seconds * 1e3:8.1f} ms = {seconds / reference:5.2f} x "
                f"forward+backward (median of {args.repeats})",
                flush=True,
            )
        return
    registry = default_registry()
    for name in args.methods.split(","):
        pruner = registry.create(name)
        pruner.prune(model, args.ratio, sample)  # warm-up
        runs = []
        with PhaseClock() as clock:
            for _ in range(args.repeats):
                clock.reset()
                seconds = _best_of(1, device, lambda p=pruner: p.prune(model, args.ratio, sample))
                runs.append((seconds, dict(clock.seconds), dict(clock.calls)))
        runs.sort(key=lambda run: run[0])
        seconds, phases, calls = runs[len(runs) // 2]
        phases["search"] = seconds - sum(phases.values())
        split = ", ".join(
            f"{phase} {phases[phase] / reference:.2f}x"
            + (f" ({calls[phase]} passes)" if phase == "dead structure" else "")
            for phase in ("scores", "trace", "search", "dead structure")
        )
        print(
            f"{name:5s} step: {seconds * 1e3:8.1f} ms = {seconds / reference:5.2f} x "
            f"forward+backward (median of {args.repeats}; {split})",
            flush=True,
        )


if __name__ == "__main__":
    main()
