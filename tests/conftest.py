"""Setup for the unit and integration tests: one torch thread, hypothesis profiles."""

from __future__ import annotations

import os

import torch
from hypothesis import HealthCheck, settings

# `pytest tests/ -n 2` runs one test process per core: torch's default of one thread per core in
# every process oversubscribes the CPU (4 busy threads on 2 cores), and its OpenMP workers then
# spin-wait on each other. One thread per test process, as the benchmark processes already do.
torch.set_num_threads(1)

# Model-building examples take longer than hypothesis' 200 ms default deadline on a busy CPU.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=25)
settings.load_profile("ci" if os.environ.get("CI") else "default")
