"""The run header: what a benchmark run measures and where, printed as the session starts.

Suite (and its file), δ, seeds, grid and shifts, then the artifact cache, the device and the
workers, so a log says what produced the numbers below it. pytest shows it among its own header
lines (``pytest_report_header``); under ``-q``, which hides pytest's header, it is written as
the first ``[robustprune]`` lines.
"""

from __future__ import annotations

from typing import Any

import pytest


def _seeds(seeds: tuple[int, ...]) -> str:
    """``(0, 1)`` -> ``"0, 1"``; a long contiguous run -> ``"100-104"``."""
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(seed) for seed in seeds)


def describe_device(config: pytest.Config, ray: str | None) -> str:
    """Where cases run: ``"cpu, 1 torch thread per process"``, ``"2 CUDA GPU(s)..."``, a Ray
    cluster, or that it is not checked (``--co`` imports no torch)."""
    if ray is not None:
        return f"Ray cluster {ray} (one GPU per task where the cluster has GPUs)"
    if config.getoption("collectonly", default=False):
        return "not checked under --co"
    import torch

    from robustprune.device import benchmark_threads

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return (
            f"{count} CUDA GPU(s), {torch.cuda.get_device_name(0)}; worker N uses GPU N mod {count}"
        )
    return f"cpu, {benchmark_threads()} torch thread(s) per process"


def header_lines(config: pytest.Config) -> list[str]:
    """The header's lines (see the module docstring)."""
    from robustprune.plugin.benchmark_run import load_run_suite
    from robustprune.plugin.controller import worker_count
    from robustprune.plugin.options import get_options

    suite: Any = load_run_suite(config)
    options = get_options(config)
    workers = worker_count(config)
    dist = getattr(config.option, "dist", "no")
    grid = suite.grid
    methods = ", ".join(
        [suite.pruner_spec(method).describe() for method in suite.methods]
        or ["every registered pruner", *(spec.describe() for spec in suite.pruners.values())]
    )
    return [
        f"robustprune: suite {suite.name} ({suite.path}); dataset {suite.dataset}; "
        f"archs {', '.join(suite.archs)}; methods {methods}",
        f"robustprune: δ = {100 * suite.delta:g} accuracy points; seeds {_seeds(suite.seeds)}; "
        f"grid {100 * grid[0]:.1f}–{100 * grid[-1]:.1f} % ({len(grid)} prune ratios); "
        f"{len(suite.shifts)} shifts",
        f"robustprune: cache {options.cache}; device {describe_device(config, options.ray)}; "
        f"workers {workers}" + (f" (--dist {dist})" if workers > 1 else ""),
    ]


class RunHeader:
    """Controller-side plugin contributing the header to pytest's own."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return header_lines(config)
