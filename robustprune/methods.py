"""The built-in pruning methods by name, without importing them (so without torch).

This table is the one list of the built-in methods: ``robustprune.pruning.builtin`` imports
and registers exactly these classes, and ``pytest --co`` reads the names from here so that
listing the benchmark's cases needs no torch.
"""

from __future__ import annotations

BUILTIN_METHODS: dict[str, str] = {
    "WT": "robustprune.pruning.magnitude:WeightThresholding",
    "SiPP": "robustprune.pruning.sipp:SiPP",
    "FT": "robustprune.pruning.filters:FilterThresholding",
    "PFP": "robustprune.pruning.pfp:ProvableFilterPruning",
}
"""Method label (the class's ``name``) -> ``module:class``, in the paper's order."""
