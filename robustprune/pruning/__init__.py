"""Pruning: the Pruner contract and registry, mask validation, and WT / SiPP / FT / PFP.

Add a method by subclassing ``Pruner`` and registering it (``@register_pruner`` in-tree, an
entry point in the group ``robustprune.pruners``, or ``registry.register`` from the plugin
hook ``pytest_robustprune_pruners``); see docs/pruning.md.
"""

from __future__ import annotations

from robustprune.pruning.base import (
    ENTRY_POINT_GROUP,
    Pruner,
    PrunerRegistry,
    PrunerRegistryError,
    UnknownPrunerError,
)
from robustprune.pruning.builtin import default_registry, register_pruner
from robustprune.pruning.compact import compact
from robustprune.pruning.masks import (
    InvalidMaskError,
    Masks,
    apply_masks,
    kept_count,
    parameter_count,
    prunable_modules,
    prunable_weights,
    prune_ratio,
    validate_masks,
)
from robustprune.pruning.sample import Sample, draw_sample, sample_size

__all__ = [
    "ENTRY_POINT_GROUP",
    "InvalidMaskError",
    "Masks",
    "Pruner",
    "PrunerRegistry",
    "PrunerRegistryError",
    "Sample",
    "UnknownPrunerError",
    "apply_masks",
    "compact",
    "default_registry",
    "draw_sample",
    "kept_count",
    "parameter_count",
    "prunable_modules",
    "prunable_weights",
    "prune_ratio",
    "register_pruner",
    "sample_size",
    "validate_masks",
]
