"""Where a run spends its time: exclusive seconds per (phase, architecture), in-process.

The harness, the prune-retrain loop and the artifact store wrap their steps in :func:`phase`;
the totals are read by ``benchmarks/bench_suite_profile.py``. Phases nest, and a phase's time
excludes the phases inside it (a cache read during an evaluation counts as ``cache I/O``), so
the totals add up to the time spent inside any phase. Wall and process CPU seconds are both
kept: on a shared machine the CPU seconds are the steadier figure. Records never see them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class PhaseTotal:
    """Exclusive wall and process CPU seconds of one (phase, architecture), and its entries."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    count: int = 0


_TOTALS: dict[tuple[str, str], PhaseTotal] = {}
_OPEN: list[list] = []  # [arch, nested wall s, nested CPU s] per open phase, innermost last


@contextmanager
def phase(name: str, arch: str | None = None) -> Iterator[None]:
    """Count the block's time as ``name`` under ``arch`` (default: the enclosing phase's
    architecture, else ``""``), less the time of the phases opened inside it."""
    if arch is None:
        arch = _OPEN[-1][0] if _OPEN else ""
    frame = [arch, 0.0, 0.0]
    _OPEN.append(frame)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        _OPEN.pop()
        total = _TOTALS.setdefault((name, arch), PhaseTotal())
        total.wall_s += wall - frame[1]
        total.cpu_s += cpu - frame[2]
        total.count += 1
        if _OPEN:
            _OPEN[-1][1] += wall
            _OPEN[-1][2] += cpu


def phase_totals() -> dict[tuple[str, str], PhaseTotal]:
    """``{(phase, arch): PhaseTotal}`` since the last :func:`reset_phases` (copies)."""
    return {key: PhaseTotal(t.wall_s, t.cpu_s, t.count) for key, t in _TOTALS.items()}


def reset_phases() -> None:
    """Forget every total (phases still open keep counting into the new totals)."""
    _TOTALS.clear()
