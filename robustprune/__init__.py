"""robustprune: does your pruned network still work away from the test set?

The names users touch are re-exported here; everything else lives in submodules. They are
imported on first use, so ``import robustprune`` (and the pytest plugin) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Pruner": "robustprune.pruning",
    "register_pruner": "robustprune.pruning",
    "default_registry": "robustprune.pruning",
    "prune_potential": "robustprune.metrics",
    "excess_error": "robustprune.metrics",
    "noise_similarity": "robustprune.metrics",
    "flops": "robustprune.metrics",
    "create_model": ("robustprune.models", "create"),
    "list_models": "robustprune.models",
    "load_dataset": "robustprune.data",
    "list_datasets": "robustprune.data",
    "list_shifts": "robustprune.data.shifts",
    "ArtifactStore": "robustprune.cache",
    "load_suite": "robustprune.suite",
    "CaseRunner": "robustprune.harness",
    "build_record": "robustprune.record",
    "prune_curve": "robustprune.pipeline",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'robustprune' has no attribute {name!r}")
    module_name, attribute = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
