"""Hooks the robustprune plugin adds to pytest; implement them in a conftest.py or a plugin.

Each function here is a specification only: its docstring is the documentation.
"""

from __future__ import annotations

from typing import Any

import pytest

hookspec = pytest.hookspec  # type: ignore[attr-defined]


@hookspec(historic=True)
def pytest_robustprune_pruners(registry: Any) -> None:
    """Register extra pruners: call ``registry.register(PrunerClass, origin="my conftest")``.

    Called once per process, the first time the benchmark harness asks for the pruner
    registry (``robustprune.pruning.default_registry()``). The hook is historic, so a
    conftest.py loaded later (e.g. in a subdirectory) is still called with the same registry.
    Registered pruners become benchmark cases and appear in the leaderboard like WT or PFP.
    """


@hookspec
def pytest_robustprune_record(record: dict[str, Any]) -> None:
    """Observe one case's record as it reaches the controller (the xdist controller with ``-n``).

    Called for every collected record, passed or failed, in completion order; ``record``
    follows docs/records.md. Do not modify it.
    """


@hookspec
def pytest_robustprune_leaderboard(leaderboard: dict[str, Any]) -> None:
    """Inspect or amend the run's leaderboard before it is printed, compared and written.

    Called once on the controller at session finish when at least one record was collected.
    Changes made in place (e.g. extra ``environment`` fields) are kept and must keep the
    leaderboard valid against the schema.
    """


@hookspec(historic=True)
def pytest_robustprune_models(registry: Any) -> None:
    """Register extra models: ``registry.register("tinynet", constructor, origin="conftest.py")``.

    ``constructor(num_classes, in_channels, input_size) -> nn.Module`` with ``input_size`` as
    ``(height, width)``. Called once per process (so in every xdist worker) before the suite is
    checked; like the entry-point group ``robustprune.models``. A name that is taken raises
    naming both origins. Suites then name the model in ``archs``.
    """


@hookspec(historic=True)
def pytest_robustprune_datasets(registry: Any) -> None:
    """Register extra datasets: ``registry.register("mydigits", loader, origin="conftest.py")``.

    ``loader(root: Path) -> robustprune.data.DatasetSplits``, where ``root`` is ``--rp-data``
    (or ``$ROBUSTPRUNE_DATA``). Called once per process before the suite is checked; like the
    entry-point group ``robustprune.datasets``.
    """


@hookspec(historic=True)
def pytest_robustprune_shifts(registry: Any) -> None:
    """Register extra shifts: ``registry.register("inverted", obj, origin="conftest.py")``.

    ``obj`` is a dataset-shift loader ``loader(data: DatasetSplits, root) -> ImageSet`` (the
    shifted test set; usable in suites as ``inverted``), a ``DatasetShiftEntry`` (a loader
    restricted to some datasets), or a ``Corruption`` (usable as ``corruption:<name>:<1-5>``).
    Called once per process before the suite is checked; like the group ``robustprune.shifts``.
    """


@hookspec(historic=True)
def pytest_robustprune_recipes(registry: Any) -> None:
    """Register extra training recipes: ``registry.register("quick", Recipe(...), origin=...)``.

    The recipe is registered under the given name (its own ``name`` is replaced). Called once
    per process before the suite is checked; like the entry-point group ``robustprune.recipes``.
    """
