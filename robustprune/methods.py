"""The built-in and ready-made pruning methods by name, without importing them (so without torch).

These tables are the one list of the in-tree methods: ``robustprune.pruning.builtin`` imports
and registers exactly these classes, and ``pytest --co`` reads the names from here so that
listing the benchmark's cases needs no torch. Built-in methods run in every suite that lists
no methods; ready-made ones (prefixed by where they come from) only where a suite names them.
"""

from __future__ import annotations

from collections.abc import Iterable

BUILTIN_METHODS: dict[str, str] = {
    "WT": "robustprune.pruning.magnitude:WeightThresholding",
    "SiPP": "robustprune.pruning.sipp:SiPP",
    "FT": "robustprune.pruning.filters:FilterThresholding",
    "PFP": "robustprune.pruning.pfp:ProvableFilterPruning",
}
"""Method label (the class's ``name``) -> ``module:class``, in the paper's order."""

_TP = "robustprune.pruning.tp_criteria"
_TORCH = "robustprune.pruning.torch_methods"
READY_MADE_METHODS: dict[str, str] = {
    "tp:activation": f"{_TP}:TorchPruningActivation",
    "tp:bn_scale": f"{_TP}:TorchPruningBNScale",
    "tp:fpgm": f"{_TP}:TorchPruningFPGM",
    "tp:hessian": f"{_TP}:TorchPruningHessian",
    "tp:lamp": f"{_TP}:TorchPruningLAMP",
    "tp:magnitude": f"{_TP}:TorchPruningMagnitude",
    "tp:obdc": f"{_TP}:TorchPruningOBDC",
    "tp:random": f"{_TP}:TorchPruningRandom",
    "tp:taylor": f"{_TP}:TorchPruningTaylor",
    "torch:l1_unstructured": f"{_TORCH}:TorchL1Unstructured",
    "torch:ln_structured": f"{_TORCH}:TorchLnStructured",
    "torch:random_unstructured": f"{_TORCH}:TorchRandomUnstructured",
}
"""Ready-made methods (Torch-Pruning's criteria, ``torch.nn.utils.prune``'s methods): name ->
``module:class``. Registered like the built-ins, but run only where a suite names them."""


def default_methods(registered: Iterable[str]) -> list[str]:
    """What a suite that lists no methods runs: every registered pruner but the ready-made
    ones, sorted."""
    return sorted(name for name in registered if name not in READY_MADE_METHODS)
