"""Where computations run: CUDA when present, else CPU with a fixed thread count per process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def default_device() -> torch.device:
    """The device a fresh process should use: the first CUDA device if there is one, else CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model with neither."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


@contextmanager
def channels_last(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` with its 4-D parameters and buffers in channels-last memory layout inside the
    block, and in the default layout again after it (the layout of a tensor never changes its
    values).

    Training and every forward pass of the benchmark run in this layout: convolutions over the
    digits suite's 8 x 8 images run up to 45 % faster in it on CPU (docs/benchmarks.md). Their
    float sums are taken in another order than in the default layout, so results differ in
    the last bits. This module's source is part of the keys of trained networks, evaluations
    and similarities (``train.engine_digest``, the harness's similarity key), so editing it
    recomputes them.
    """
    model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)


def worker_index(worker_id: str | None) -> int:
    """0 for the controller or a run without xdist, N for xdist's ``gwN``."""
    if not worker_id or not worker_id.startswith("gw"):
        return 0
    return int(worker_id[2:])


THREADS_ENV = "ROBUSTPRUNE_THREADS"
DEFAULT_THREADS = 1


def benchmark_threads() -> int:
    """Torch CPU threads of every benchmark process: ``$ROBUSTPRUNE_THREADS``, else 1.

    The same number whatever ``-n`` and however many cores the machine has, because the thread
    count changes the order of float reductions inside convolutions and matrix products: a
    parent trained with 2 threads differs bit-wise from one trained with 1, the difference
    grows over the prune-retrain steps, and prune potential on 449 test images moves by whole
    grid steps (docs/statistics.md#determinism). With one thread per process, ``-n 0``, ``-n 2``
    and ``-n 4`` give identical leaderboards; run more workers (up to the core count) to use
    more cores. Setting ``ROBUSTPRUNE_THREADS`` trades that reproducibility for speed.
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return DEFAULT_THREADS
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {value!r}")
    return threads


def configure_worker(worker_id: str | None = None, worker_count: int | None = None) -> torch.device:
    """Pick this process's device and set its CPU threads to :func:`benchmark_threads`.

    ``worker_id`` defaults to pytest-xdist's PYTEST_XDIST_WORKER; with several GPUs, worker N
    gets GPU N mod count. ``worker_count`` is accepted for compatibility and no longer changes
    anything: the thread count depends neither on the number of workers nor on the core count
    (reproducible leaderboards); with one thread each, ``-n`` up to the core count never
    oversubscribes the CPU.
    """
    worker_id = worker_id or os.environ.get("PYTEST_XDIST_WORKER")
    torch.set_num_threads(benchmark_threads())
    if torch.cuda.is_available():
        index = worker_index(worker_id) % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cpu")
