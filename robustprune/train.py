"""Training and evaluation engine: batches sliced from device tensors, masks kept at zero.

``train`` runs a :class:`~robustprune.recipes.Recipe` on a model; ``evaluate`` measures top-1
accuracy and mean cross-entropy on an image set. Both normalize inputs with the dataset's
mean/std, so datasets hold plain ``[0, 1]`` images and shifts act before normalization.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from robustprune.device import channels_last
from robustprune.identity import builtin_digest
from robustprune.pruning.masks import Masks, apply_masks
from robustprune.recipes import Recipe, get_recipe, list_recipes  # noqa: F401  (re-exported)
from robustprune.results import Measurement

Progress = Callable[[str], None]

ENGINE_VERSION = 2
"""Part of every cache key of a trained network; bump when training changes its results
(2: training and evaluation in channels-last layout, ``device.channels_last``)."""


def engine_digest() -> str:
    """The code identity of training and evaluation, for artifact keys: this module and the
    module of ``device.channels_last``, the layout both run in (a top-level module's
    ``builtin_digest`` covers itself only)."""
    return builtin_digest(__name__) + builtin_digest(channels_last.__module__)


IGNORE_INDEX = 255
"""Segmentation label that marks pixels to ignore (VOC's border)."""


FINITE_CHECK_EVERY = 50
"""Steps between checks for a non-finite loss (each check waits for the device once)."""


class NonFiniteLossError(FloatingPointError):
    """Training diverged: a loss (or, after the last step, a weight) is NaN or infinite.

    The message names what was trained (``context``), the recipe, the epoch and the step; the
    model is left as it is, and callers must not cache it.
    """


Evaluation = Measurement
"""The old name of :class:`robustprune.results.Measurement`, which ``evaluate`` returns."""


def normalize_batch(
    images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """``(images - mean) / std`` per channel for an N x C x H x W float batch."""
    mean_t = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean_t) / std_t


def cifar_augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad 4, random crop back to size, random horizontal flip; batched, one draw per image."""
    count, _, height, width = images.shape
    padded = F.pad(images, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (2, count), generator=generator).to(images.device)
    rows = (offsets[0].view(-1, 1) + torch.arange(height, device=images.device)).view(
        count, 1, height, 1
    )
    cols = (offsets[1].view(-1, 1) + torch.arange(width, device=images.device)).view(
        count, 1, 1, width
    )
    batch_index = torch.arange(count, device=images.device).view(count, 1, 1, 1)
    channel_index = torch.arange(images.shape[1], device=images.device).view(1, -1, 1, 1)
    cropped = padded[batch_index, channel_index, rows, cols]
    flip = (torch.rand(count, generator=generator) < 0.5).to(images.device)
    cropped[flip] = cropped[flip].flip(-1)
    return cropped


def train(
    model: nn.Module,
    data,
    recipe: Recipe | str,
    seed: int,
    device: torch.device | str,
    masks: Masks | None = None,
    progress: Progress | None = None,
    train_set=None,
    context: str = "",
) -> nn.Module:
    """Train ``model`` in place on ``data.train`` (or ``train_set``) following ``recipe``.

    Deterministic for a seed on CPU: shuffling and augmentation draw from one seeded generator.
    With ``masks``, pruned entries are zero after every optimizer step (Algorithm 1's retrain).
    A NaN or infinite loss raises :class:`NonFiniteLossError` within ``FINITE_CHECK_EVERY`` steps, naming
    ``context`` (what is being trained, e.g. ``"parent digits/resnet20 seed 0"``), the recipe,
    the epoch and the first bad step.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    device = torch.device(device)
    torch.manual_seed(seed)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    images = (train_set if train_set is not None else data.train).to(device)
    model.to(device).train()
    if masks:
        apply_masks(model, masks)
    if recipe.epochs == 0 or len(images) == 0:
        return model.eval()

    with channels_last(model):  # faster convolutions; see device.channels_last
        _run_recipe(model, images, data, recipe, generator, device, masks, progress, context)
    bad = [name for name, value in model.state_dict().items() if not _all_finite(value)]
    if bad:
        raise NonFiniteLossError(
            f"{context or 'training'}: recipe {recipe.name!r} left non-finite values in "
            f"{bad[:3]} after epoch {recipe.epochs}/{recipe.epochs}; nothing was cached "
            "(lower the learning rate or check the data)"
        )
    return model.eval()


def _run_recipe(
    model: nn.Module,
    images,
    data,
    recipe: Recipe,
    generator: torch.Generator,
    device: torch.device,
    masks: Masks | None,
    progress: Progress | None,
    context: str,
) -> None:
    """The epochs of ``train``: SGD with the recipe's schedule, masked entries zeroed after
    every step, the loss checked for non-finite values."""
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )
    steps_per_epoch = max(1, len(images) // recipe.batch_size)  # drop the ragged last batch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: recipe.lr_factor(step / steps_per_epoch)
    )
    mask_pairs = _mask_pairs(model, masks)
    for epoch in range(recipe.epochs):
        order = torch.randperm(len(images), generator=generator)
        losses = torch.zeros(steps_per_epoch, device=device)  # checked once per epoch: no sync
        for step in range(steps_per_epoch):
            index = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            inputs, targets = images.batch(index, device)
            if data.augment == "cifar":
                inputs = cifar_augment(inputs, generator)
            inputs = normalize_batch(inputs, data.mean, data.std)
            loss = F.cross_entropy(logits_of(model(inputs)), targets, ignore_index=IGNORE_INDEX)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if mask_pairs:
                with torch.no_grad():
                    for parameter, keep in mask_pairs:
                        parameter.mul_(keep)
            losses[step] = loss.detach()
            if (step + 1) % FINITE_CHECK_EVERY == 0:  # stop a diverged run early
                _check_finite(losses[: step + 1], context, recipe, epoch, steps_per_epoch)
        _check_finite(losses, context, recipe, epoch, steps_per_epoch)
        if progress is not None:
            mean_loss = losses.sum().item() / steps_per_epoch
            progress(f"epoch {epoch + 1}/{recipe.epochs} loss {mean_loss:.3f}")


def _all_finite(tensor: torch.Tensor) -> bool:
    return not tensor.is_floating_point() or bool(torch.isfinite(tensor).all())


def _check_finite(
    losses: torch.Tensor, context: str, recipe: Recipe, epoch: int, steps: int
) -> None:
    """Raise NonFiniteLossError naming the first non-finite step of this epoch, if any."""
    finite = torch.isfinite(losses)
    if bool(finite.all()):
        return
    step = int((~finite).nonzero()[0])
    raise NonFiniteLossError(
        f"{context or 'training'}: the loss is {float(losses[step])} at epoch "
        f"{epoch + 1}/{recipe.epochs}, step {step + 1}/{steps} of recipe {recipe.name!r} "
        f"(lr {recipe.lr}); training stopped and nothing was cached "
        "(lower the learning rate or check the data)"
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images,
    data,
    device: torch.device | str,
    batch_size: int = 500,
    keep_logits: bool = False,
) -> Measurement:
    """Accuracy and mean cross-entropy of ``model`` on ``images`` (an ImageSet), normalized with ``data``'s statistics."""
    device = torch.device(device)
    model.to(device).eval()
    total_loss, correct_parts, logit_parts = 0.0, [], []
    confusion = None
    with channels_last(model):
        for start in range(0, len(images), batch_size):
            index = torch.arange(start, min(start + batch_size, len(images)))
            inputs, targets = images.batch(index, device)
            logits = logits_of(model(normalize_batch(inputs, data.mean, data.std)))
            total_loss += F.cross_entropy(
                logits, targets, ignore_index=IGNORE_INDEX, reduction="sum"
            ).item()
            predictions = logits.argmax(1)
            if targets.dim() == 1:
                correct_parts.append((predictions == targets).cpu())
            else:
                confusion = _accumulate_confusion(confusion, predictions, targets, logits.shape[1])
            if keep_logits:
                logit_parts.append(logits.cpu())
    logits_all = torch.cat(logit_parts) if keep_logits else None
    if confusion is not None:
        intersection = confusion.diag()
        union = confusion.sum(0) + confusion.sum(1) - intersection
        present = union > 0
        mean_iou = (intersection[present] / union[present]).mean().item()
        labelled = max(1, int(confusion.sum().item()))
        return Measurement(accuracy=mean_iou, loss=total_loss / labelled, logits=logits_all)
    correct = torch.cat(correct_parts) if correct_parts else torch.zeros(0, dtype=torch.bool)
    count = max(1, len(correct))
    return Measurement(
        accuracy=correct.float().sum().item() / count,
        loss=total_loss / count,
        correct=correct,
        logits=logits_all,
    )


def logits_of(output) -> torch.Tensor:
    """Models may return a tensor or torchvision's ``{"out": ...}`` dict."""
    return output["out"] if isinstance(output, dict) else output


def _mask_pairs(model: nn.Module, masks: Masks | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if not masks:
        return []
    parameters = dict(model.named_parameters())
    unknown = sorted(set(masks) - set(parameters))
    if unknown:
        raise KeyError(f"masks name parameters the model does not have: {unknown[:5]}")
    return [
        (parameters[name], mask.to(device=parameters[name].device, dtype=parameters[name].dtype))
        for name, mask in masks.items()
    ]


def _accumulate_confusion(confusion, predictions, targets, classes: int) -> torch.Tensor:
    valid = targets != IGNORE_INDEX
    pairs = targets[valid] * classes + predictions[valid]
    counts = (
        torch.bincount(pairs, minlength=classes * classes).view(classes, classes).double().cpu()
    )
    return counts if confusion is None else confusion + counts
