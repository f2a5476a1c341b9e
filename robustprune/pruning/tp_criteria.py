"""Ready-made structured methods: Torch-Pruning's importance criteria on our channel groups.

Each criterion scores the channels of every channel group (structure.py) through Torch-Pruning's
own ``Importance`` object, called on the group the dependency graph gives for the group's root;
every producer's output filters take their group channel's score, and ``ChannelScorePruner``
does the rest (budget, nesting, dead structure, propagation). The data-driven criteria read
the sample set S: gradients of the loss (Taylor), squared per-sample gradients (Hessian),
mean absolute layer inputs (Activation), Kronecker-factored Fisher statistics (OBDC). The
network is scored in eval mode and left as it was (gradients and hooks removed).
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional

from robustprune.pruning.masks import prunable_modules, weight_name
from robustprune.pruning.sample import Sample
from robustprune.pruning.scored import ChannelScorePruner
from robustprune.pruning.structure import (
    PRODUCER,
    channel_structure,
    dependency_graph,
    example_input,
    out_channel_function,
)

DISTRIBUTION = "torch-pruning"


def torch_pruning_version() -> str:
    """The installed torch-pruning's version (read from its metadata, without importing it)."""
    return importlib.metadata.version(DISTRIBUTION)


ORIGIN = f"ready-made from {DISTRIBUTION} {torch_pruning_version()}"
"""Where these methods come from, as ``robustprune list pruners`` shows it."""


class TorchPruningCriterion(ChannelScorePruner):
    """Output filters by a Torch-Pruning importance criterion, the same keep fraction per layer."""

    criterion: ClassVar[str]
    """The ``Importance`` class in ``torch_pruning.pruner.importance``."""
    data_informed = False
    allocation = "uniform"
    unit = "filter"
    version = f"{DISTRIBUTION} {torch_pruning_version()}"  # cached curves follow the install

    def importance(self, model: nn.Module, example: Tensor) -> Any:
        """A fresh instance of the criterion, with Torch-Pruning's default settings."""
        import torch_pruning

        return getattr(torch_pruning.pruner.importance, self.criterion)()

    def fed(self, model: nn.Module, sample: Sample, importance: Any) -> Any:
        """A context in which ``importance`` can score ``model`` (data-free: nothing to do)."""
        return nullcontext()

    def scores(self, model: nn.Module, sample: Sample) -> dict[str, Tensor]:
        import torch_pruning

        example = example_input(sample, self.name)
        structure = channel_structure(model, example)
        graph = dependency_graph(model, example)
        importance = self.importance(model, example)
        scores: dict[str, Tensor] = {}
        was_training = model.training
        model.eval()
        try:
            with self.fed(model, sample, importance):
                for group in structure.groups:
                    root = structure.modules[group.root]
                    pruning_group = graph.get_pruning_group(
                        root,
                        out_channel_function(root, torch_pruning),
                        idxs=list(range(group.width)),
                    )
                    found = importance(pruning_group)
                    if found is None or found.numel() != group.width:
                        continue  # nothing this criterion can score (e.g. no BN for BNScale)
                    found = found.detach().to(torch.float64).cpu()
                    for member in group.role(PRODUCER):
                        weight = structure.modules[member.module].weight
                        name = weight_name(member.module)
                        score = scores.setdefault(
                            name, torch.full((weight.shape[0],), torch.nan, dtype=torch.float64)
                        )
                        score[member.index] = found[member.channel]
        finally:
            model.train(was_training)
        return scores


class TorchPruningMagnitude(TorchPruningCriterion):
    """Group l2 norm of every weight and BN scale holding a channel (Torch-Pruning's Magnitude)."""

    name = "tp:magnitude"
    criterion = "GroupMagnitudeImportance"


class TorchPruningBNScale(TorchPruningCriterion):
    """|BN scale| of each channel, as network slimming (Torch-Pruning's BNScale)."""

    name = "tp:bn_scale"
    criterion = "BNScaleImportance"


class TorchPruningLAMP(TorchPruningCriterion):
    """Layer-adaptive magnitude scores ranked network-wide (Torch-Pruning's LAMP)."""

    name = "tp:lamp"
    criterion = "LAMPImportance"
    allocation = "global"


class TorchPruningFPGM(TorchPruningCriterion):
    """Distance of each filter to the others, the geometric median goes first (Torch-Pruning's FPGM)."""

    name = "tp:fpgm"
    criterion = "FPGMImportance"


class TorchPruningRandom(TorchPruningCriterion):
    """Uniformly random channel scores (Torch-Pruning's Random; the harness seeds the draw)."""

    name = "tp:random"
    criterion = "RandomImportance"


class TorchPruningTaylor(TorchPruningCriterion):
    """|weight x gradient of the loss over S| per channel (Torch-Pruning's Taylor)."""

    name = "tp:taylor"
    criterion = "GroupTaylorImportance"
    data_informed = True

    def fed(self, model: nn.Module, sample: Sample, importance: Any) -> Any:
        return gradients_set(model, loss_gradients(model, sample))


class TorchPruningHessian(TorchPruningCriterion):
    """weight^2 x mean squared per-sample gradient over S, optimal brain damage (Torch-Pruning's Hessian)."""

    name = "tp:hessian"
    criterion = "GroupHessianImportance"
    data_informed = True

    def fed(self, model: nn.Module, sample: Sample, importance: Any) -> Any:
        return gradients_set(model, squared_sample_gradients(model, sample))


class TorchPruningActivation(TorchPruningCriterion):
    """Mean |input| of each channel over S where layers read it (Torch-Pruning's Activation)."""

    name = "tp:activation"
    criterion = "ActivationImportance"
    data_informed = True

    @contextmanager
    def fed(self, model: nn.Module, sample: Sample, importance: Any) -> Iterator[None]:
        inputs = torch.cat([batch for batch, _targets in sample])
        try:
            with importance.compute_importance(model), torch.no_grad():
                model(inputs)  # one pass over all of S: the criterion keeps the last pass only
            yield
        finally:
            for module in model.modules():
                if "_importance" in vars(module):
                    del module._importance


class TorchPruningOBDC(TorchPruningCriterion):
    """Weight^2 x Kronecker-factored Fisher diagonal from S, EigenDamage's OBD (Torch-Pruning's OBDC)."""

    name = "tp:obdc"
    criterion = "OBDCImportance"
    data_informed = True

    def importance(self, model: nn.Module, example: Tensor) -> Any:
        import torch_pruning

        with torch.no_grad():
            classes = int(model(example).shape[1])  # the classifier it must not score
        return torch_pruning.pruner.importance.OBDCImportance(num_classes=classes)

    @contextmanager
    def fed(self, model: nn.Module, sample: Sample, importance: Any) -> Iterator[None]:
        layers = list(prunable_modules(model).values())
        importance.modules = layers
        handles = [layer.register_forward_pre_hook(importance._save_input) for layer in layers]
        handles += [
            layer.register_full_backward_hook(importance._save_grad_output) for layer in layers
        ]
        saved = {parameter: parameter.grad for parameter in model.parameters()}
        try:
            for parameter in model.parameters():
                parameter.grad = None
            with torch.enable_grad(), warnings.catch_warnings():
                # the first layer's hook sees no input gradient (the images need none): expected
                warnings.filterwarnings("ignore", "Full backward hook", UserWarning)
                for inputs, targets in sample:
                    functional.cross_entropy(model(inputs), targets).backward()
                    importance.step()
        finally:
            for handle in handles:
                handle.remove()
        try:
            yield
        finally:
            for parameter, grad in saved.items():
                parameter.grad = grad


def loss_gradients(model: nn.Module, sample: Sample) -> dict[str, Tensor]:
    """The gradient of the mean cross-entropy over S of every parameter (zero where unused)."""
    parameters = dict(model.named_parameters())
    totals = {name: torch.zeros_like(parameter) for name, parameter in parameters.items()}
    count = sum(targets.numel() for _inputs, targets in sample)
    with torch.enable_grad():
        for inputs, targets in sample:
            loss = functional.cross_entropy(model(inputs), targets, reduction="sum") / count
            found = torch.autograd.grad(loss, list(parameters.values()), allow_unused=True)
            for name, gradient in zip(parameters, found, strict=True):
                if gradient is not None:
                    totals[name] += gradient
    return totals


def squared_sample_gradients(model: nn.Module, sample: Sample) -> dict[str, Tensor]:
    """The mean over the samples of S of each sample's squared loss gradient, per parameter."""
    parameters = dict(model.named_parameters())
    totals = {name: torch.zeros_like(parameter) for name, parameter in parameters.items()}
    count = 0
    with torch.enable_grad():
        for inputs, targets in sample:
            for one_input, one_target in zip(inputs, targets, strict=True):
                loss = functional.cross_entropy(model(one_input[None]), one_target[None])
                found = torch.autograd.grad(loss, list(parameters.values()), allow_unused=True)
                for name, gradient in zip(parameters, found, strict=True):
                    if gradient is not None:
                        totals[name] += gradient.square()
                count += 1
    return {name: total / max(count, 1) for name, total in totals.items()}


@contextmanager
def gradients_set(model: nn.Module, gradients: dict[str, Tensor]) -> Iterator[None]:
    """``gradients`` in the parameters' ``.grad`` (where criteria read them), restored after."""
    parameters = dict(model.named_parameters())
    saved = {name: parameter.grad for name, parameter in parameters.items()}
    try:
        for name, parameter in parameters.items():
            parameter.grad = gradients.get(name)
        yield
    finally:
        for name, parameter in parameters.items():
            parameter.grad = saved[name]


TORCH_PRUNING_CRITERIA: tuple[type[TorchPruningCriterion], ...] = (
    TorchPruningActivation,
    TorchPruningBNScale,
    TorchPruningFPGM,
    TorchPruningHessian,
    TorchPruningLAMP,
    TorchPruningMagnitude,
    TorchPruningOBDC,
    TorchPruningRandom,
    TorchPruningTaylor,
)
"""Every ready-made Torch-Pruning criterion, in name order."""
