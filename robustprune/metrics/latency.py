"""Measured speed: median forward latency of a parent and a (compacted) pruned network.

``compare_latency`` times both networks on the same random input, alternating them repeat by
repeat (so a change in the machine's load hits both alike), after ``warmup`` untimed passes
each, in eval mode under ``torch.inference_mode``. On CUDA every timed pass is bracketed by
``torch.cuda.synchronize``. Latencies are in seconds per forward pass of one batch; the
speedup is parent latency / pruned latency (> 1: the pruned network is faster).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from robustprune.device import model_device

BATCH_SIZES: tuple[int, ...] = (1, 64)
"""Batch sizes records report (the speedup column is the one at 64)."""
REPEATS = 5
"""Timed passes per network and batch size (the median is reported)."""
WARMUP = 1
"""Untimed passes per network and batch size before timing (allocator, cuDNN/oneDNN caches)."""


def _check(batch_sizes: Sequence[int], repeats: int, warmup: int) -> None:
    if not batch_sizes or any(
        isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in batch_sizes
    ):
        raise ValueError(f"batch_sizes must be positive ints, got {list(batch_sizes)!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")


def _timed(model: nn.Module, inputs: torch.Tensor) -> float:
    """Seconds of one forward pass (CUDA work included: synchronized before and after)."""
    cuda = inputs.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(inputs.device)
    started = time.perf_counter()
    model(inputs)
    if cuda:
        torch.cuda.synchronize(inputs.device)
    return time.perf_counter() - started


@torch.inference_mode()
def measure_latencies(
    models: dict[str, nn.Module],
    input_shape: Sequence[int],
    batch_sizes: Sequence[int] = BATCH_SIZES,
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    seed: int = 0,
) -> dict[str, dict[int, list[float]]]:
    """Every timed pass, in seconds: ``{label: {batch size: [seconds per pass, ...]}}``.

    ``input_shape`` is one input's shape, e.g. ``(3, 32, 32)``. Models run on their own device
    (all must share it), in eval mode (each submodule's mode is restored afterwards), interleaved repeat by repeat.
    """
    _check(batch_sizes, repeats, warmup)
    if not models:
        raise ValueError("measure_latencies needs at least one model")
    devices = {label: model_device(model) for label, model in models.items()}
    device = next(iter(devices.values()))
    if any(d != device for d in devices.values()):
        shown = ", ".join(f"{label}: {d}" for label, d in devices.items())
        raise ValueError(f"measure_latencies: models must share one device, got {shown}")
    modes = {label: [m.training for m in model.modules()] for label, model in models.items()}
    generator = torch.Generator().manual_seed(seed)
    times: dict[str, dict[int, list[float]]] = {label: {} for label in models}
    try:
        for model in models.values():
            model.eval()
        for batch in batch_sizes:
            inputs = torch.randn(batch, *input_shape, generator=generator).to(device)
            for _ in range(warmup):
                for model in models.values():
                    model(inputs)
            for label in models:
                times[label][batch] = []
            for _ in range(repeats):
                for label, model in models.items():
                    times[label][batch].append(_timed(model, inputs))
    finally:
        for label, model in models.items():  # every submodule's own mode, as it was
            for module, training in zip(model.modules(), modes[label], strict=True):
                module.training = training
    return times


def compare_latency(
    parent: nn.Module,
    pruned: nn.Module,
    input_shape: Sequence[int],
    batch_sizes: Sequence[int] = BATCH_SIZES,
    repeats: int = REPEATS,
    warmup: int = WARMUP,
) -> dict[str, Any]:
    """Median latency of ``parent`` and ``pruned`` and the speedup, per batch size (plain JSON).

    Keys are strings (JSON objects): ``{"parent_s": {"1": s, "64": s}, "compacted_s": {...},
    "speedup": {"1": parent / compacted, ...}, "batch_sizes", "repeats", "warmup", "threads",
    "device"}``; ``threads`` is ``torch.get_num_threads()`` of the measuring process.
    """
    times = measure_latencies(
        {"parent": parent, "pruned": pruned}, input_shape, batch_sizes, repeats, warmup
    )
    parent_s = {str(b): statistics.median(times["parent"][b]) for b in batch_sizes}
    compacted_s = {str(b): statistics.median(times["pruned"][b]) for b in batch_sizes}
    return {
        "parent_s": parent_s,
        "compacted_s": compacted_s,
        "speedup": {b: parent_s[b] / compacted_s[b] for b in parent_s},
        "batch_sizes": list(batch_sizes),
        "repeats": repeats,
        "warmup": warmup,
        "threads": torch.get_num_threads(),
        "device": str(model_device(parent)),
    }
