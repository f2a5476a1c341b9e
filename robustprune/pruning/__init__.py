"""Pruning: the Pruner contract and registry, mask validation, WT / SiPP / FT / PFP and the
ready-made methods (Torch-Pruning's criteria, torch's pruning methods).

Add a method by subclassing ``WeightScorePruner`` or ``ChannelScorePruner`` (a score in, the
harness does the rest) or ``Pruner`` (masks in, full control) and registering it (``@register_pruner`` in-tree, an
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
from robustprune.pruning.groups import CoupledChannels, ParameterSlice, channel_groups
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
from robustprune.pruning.scored import ChannelScorePruner, ScoreError, WeightScorePruner

__all__ = [
    "ENTRY_POINT_GROUP",
    "ChannelScorePruner",
    "CoupledChannels",
    "InvalidMaskError",
    "Masks",
    "ParameterSlice",
    "Pruner",
    "PrunerRegistry",
    "PrunerRegistryError",
    "Sample",
    "ScoreError",
    "UnknownPrunerError",
    "WeightScorePruner",
    "apply_masks",
    "channel_groups",
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
