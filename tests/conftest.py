"""Setup for the unit and integration tests."""

from __future__ import annotations

import torch

# `pytest tests/ -n 2` runs one test process per core: torch's default of one thread per core in
# every process oversubscribes the CPU (4 busy threads on 2 cores), and its OpenMP workers then
# spin-wait on each other. One thread per test process, as the benchmark processes already do.
torch.set_num_threads(1)
