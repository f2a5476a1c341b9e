"""Where computations run: CUDA when present, else CPU, with threads shared fairly between workers."""

from __future__ import annotations

import os

import torch


def default_device() -> torch.device:
    """The device a fresh process should use: the first CUDA device if there is one, else CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def worker_index(worker_id: str | None) -> int:
    """0 for the controller or a run without xdist, N for xdist's ``gwN``."""
    if not worker_id or not worker_id.startswith("gw"):
        return 0
    return int(worker_id[2:])


def configure_worker(worker_id: str | None = None, worker_count: int | None = None) -> torch.device:
    """Pick this process's device and cap its CPU threads so workers x threads <= cores.

    ``worker_id``/``worker_count`` default to pytest-xdist's PYTEST_XDIST_WORKER and
    PYTEST_XDIST_WORKER_COUNT. With several GPUs, worker N gets GPU N mod count.
    """
    worker_id = worker_id or os.environ.get("PYTEST_XDIST_WORKER")
    if worker_count is None:
        worker_count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    cores = os.cpu_count() or 1
    threads = max(1, cores // max(1, worker_count))
    torch.set_num_threads(threads)
    if torch.cuda.is_available():
        index = worker_index(worker_id) % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cpu")
