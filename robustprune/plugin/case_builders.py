"""Who builds a case's parents, curves and result: this process, or the Ray cluster's tasks.

The ``case_builder`` fixture (robustprune.plugin.fixtures) picks one of the two once per
session; the case fixtures call it without asking which. Both give what a ``-n 0`` run gives:
:class:`LocalCases` builds with :class:`robustprune.harness.CaseRunner` here,
``robustprune.plugin.ray_run.RayCases`` waits for the tasks and reads the store.
"""

from __future__ import annotations

from typing import Any

import pytest


def skip_unless_cuda(suite: Any, has_cuda: bool, otherwise: str) -> None:
    """Skip the case of a ``gpu = true`` suite where no CUDA device is at hand (``otherwise``
    says what there is instead)."""
    if suite.gpu and not has_cuda:
        pytest.skip(f"suite {suite.name!r} needs a CUDA device; {otherwise}")


class LocalCases:
    """A case's parents, curves and result, built (or loaded from the store) in this process."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def parents(self, case: Any) -> list[Any]:
        """The trained parents of the case's architecture, one per seed."""
        device = self.runner.device
        skip_unless_cuda(self.runner.suite, device.type == "cuda", f"this run has {device}")
        return [self.runner.parent(case.arch, seed) for seed in self.runner.suite.seeds]

    def curves(self, case: Any, parents: list[Any]) -> list[Any]:
        """The case's prune-retrain curve per seed (``parents`` are built by then)."""
        return [self.runner.curve(case.arch, case.method, s) for s in self.runner.suite.seeds]

    def case_result(self, case: Any, parents: list[Any], curves: list[Any]) -> Any:
        """The parents and curves measured on every distribution (a CaseResult)."""
        return self.runner.run(case, parents, curves)
