"""The training engine: recipes and schedules, determinism, masks, evaluation, augmentation, threads."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from robustprune import device as rp_device
from robustprune import models
from robustprune.data import DatasetSplits, ImageSet, load_dataset
from robustprune.recipes import SCHEDULES, Recipe, get_recipe, list_recipes, register_recipe
from robustprune.train import (
    IGNORE_INDEX,
    cifar_augment,
    evaluate,
    normalize_batch,
    train,
)

# ---------------------------------------------------------------------------------------------
# helpers


def _synthetic_splits(
    count: int = 48, channels: int = 3, size: int = 8, augment: str | None = None, seed: int = 0
) -> DatasetSplits:
    """A small learnable classification set: the class decides which quadrant is bright."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 4
    images = 0.3 * torch.rand(count, channels, size, size, generator=generator)
    half = size // 2
    for index, label in enumerate(labels.tolist()):
        row, col = divmod(label, 2)
        images[index, :, row * half : (row + 1) * half, col * half : (col + 1) * half] += 0.6
    images = images.clamp(0, 1)
    full = ImageSet(images, labels.to(torch.int64))
    return DatasetSplits(
        name="synthetic",
        train=full,
        val=full.subset(torch.arange(4)),
        test=full,
        num_classes=4,
        mean=(0.4,) * channels,
        std=(0.3,) * channels,
        augment=augment,
    )


class TinyNet(nn.Module):
    """conv-bn-relu, global pool, linear: every parameter kind the engine meets, in ~200 weights."""

    def __init__(self, in_channels: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn(self.conv(x)))
        return self.fc(out.mean((2, 3)))


def _tiny_model(seed: int, in_channels: int = 3) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(in_channels)


SHORT = Recipe(
    "test_short",
    epochs=3,
    batch_size=8,
    lr=0.1,
    weight_decay=5e-4,
    schedule="cosine",
    warmup_epochs=1,
)


# ---------------------------------------------------------------------------------------------
# recipes and schedules


def test_warmup_is_linear_then_hands_over_to_the_schedule() -> None:
    recipe = Recipe(
        "w", epochs=100, batch_size=1, lr=0.1, weight_decay=0.0, milestones=(50,), warmup_epochs=5
    )
    assert recipe.lr_factor(0.0) == pytest.approx(0.0, abs=1e-3)
    assert recipe.lr_factor(2.5) == pytest.approx(0.5, abs=1e-3)
    assert recipe.lr_factor(4.99) == pytest.approx(1.0, abs=1e-2)
    assert recipe.lr_factor(1.0) < recipe.lr_factor(2.0) < recipe.lr_factor(3.0)
    assert recipe.lr_factor(5.0) == 1.0
    assert recipe.lr_factor(49.9) == 1.0


def test_step_schedule_multiplies_by_gamma_at_each_milestone() -> None:
    recipe = get_recipe("cifar_resnet")
    assert recipe.lr_factor(90.99) == 1.0
    assert recipe.lr_factor(91.0) == pytest.approx(0.1)
    assert recipe.lr_factor(135.99) == pytest.approx(0.1)
    assert recipe.lr_factor(136.0) == pytest.approx(0.01)
    assert recipe.lr_factor(181.9) == pytest.approx(0.01)
    wrn = get_recipe("cifar_wrn16_8")  # gamma 0.2 at 60, 120, 160
    assert [wrn.lr_factor(e) for e in (59, 60, 120, 160)] == pytest.approx([1, 0.2, 0.04, 0.008])


def test_every_schedule_multiplies_by_gamma_every_period() -> None:
    recipe = get_recipe("cifar_vgg16_bn")  # x0.5 every 30 epochs, 10 warmup
    assert recipe.lr_factor(10.0) == 1.0
    assert recipe.lr_factor(29.99) == 1.0
    assert recipe.lr_factor(30.0) == pytest.approx(0.5)
    assert recipe.lr_factor(59.99) == pytest.approx(0.5)
    assert recipe.lr_factor(60.0) == pytest.approx(0.25)
    assert recipe.lr_factor(299.0) == pytest.approx(0.5**9)


def test_poly_schedule_follows_one_minus_progress_to_the_power() -> None:
    recipe = get_recipe("voc_deeplabv3")  # 45 epochs, power 0.9, no warmup
    assert recipe.lr_factor(0.0) == 1.0
    for epoch in (4.5, 22.5, 40.0):
        assert recipe.lr_factor(epoch) == pytest.approx((1 - epoch / 45) ** 0.9)
    assert recipe.lr_factor(45.0) == 0.0
    assert recipe.lr_factor(50.0) == 0.0  # never negative past the end


def test_cosine_schedule_halves_at_midpoint_and_ends_at_zero() -> None:
    recipe = Recipe("c", epochs=10, batch_size=1, lr=0.1, weight_decay=0.0, schedule="cosine")
    assert recipe.lr_factor(0.0) == pytest.approx(1.0)
    assert recipe.lr_factor(5.0) == pytest.approx(0.5)
    assert recipe.lr_factor(2.5) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert recipe.lr_factor(10.0) == pytest.approx(0.0, abs=1e-12)
    assert recipe.lr_factor(12.0) == pytest.approx(0.0, abs=1e-12)


def test_with_epochs_scales_milestones_warmup_and_period() -> None:
    resnet = get_recipe("cifar_resnet")
    half = resnet.with_epochs(91)
    assert half.epochs == 91
    assert half.milestones == pytest.approx((45.5, 68.0))
    assert half.warmup_epochs == pytest.approx(2.5)
    assert half.name == "cifar_resnet@91ep"
    assert (half.lr, half.batch_size, half.weight_decay) == (
        resnet.lr,
        resnet.batch_size,
        resnet.weight_decay,
    )
    # The compressed schedule is the original one read at scaled time (warmup starts at a
    # tiny offset above zero that does not scale, hence the absolute tolerance).
    for epoch in (0.5, 3.0, 40.0, 45.5, 60.0, 68.0, 90.0):
        assert half.lr_factor(epoch) == pytest.approx(resnet.lr_factor(epoch * 2), abs=1e-3)
    vgg = get_recipe("cifar_vgg16_bn").with_epochs(30, name="vgg_quick")
    assert vgg.name == "vgg_quick"
    assert vgg.step_every == pytest.approx(3.0)
    assert vgg.warmup_epochs == pytest.approx(1.0)
    assert resnet.milestones == (91, 136)  # the registered recipe is untouched (frozen)


def test_unknown_recipe_error_lists_the_valid_recipes() -> None:
    with pytest.raises(KeyError) as info:
        get_recipe("cifar_resnett")
    message = str(info.value)
    assert "cifar_resnett" in message
    for name in ("cifar_resnet", "digits", "voc_deeplabv3"):
        assert name in message


def test_unknown_schedule_error_lists_the_valid_schedules() -> None:
    with pytest.raises(ValueError) as info:
        Recipe("bad", epochs=1, batch_size=1, lr=0.1, weight_decay=0.0, schedule="linear")
    message = str(info.value)
    assert "'linear'" in message and "'bad'" in message
    for schedule in sorted(SCHEDULES):
        assert schedule in message


@pytest.mark.parametrize(
    "fields",
    [
        {"epochs": -1},
        {"batch_size": 0},
        {"lr": 0.0},
    ],
)
def test_invalid_recipe_numbers_raise(fields: dict) -> None:
    values = {"epochs": 1, "batch_size": 1, "lr": 0.1} | fields
    with pytest.raises(ValueError, match="'bad'"):
        Recipe("bad", weight_decay=0.0, **values)


def test_every_schedule_without_a_period_raises_at_construction() -> None:
    with pytest.raises(ValueError, match="step_every"):
        Recipe("no_period", epochs=10, batch_size=1, lr=0.1, weight_decay=0.0, schedule="every")
    zero = get_recipe("cifar_vgg16_bn").with_epochs(0)  # zero epochs: nothing to schedule
    assert zero.epochs == 0


def test_duplicate_recipe_registration_raises() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_recipe(Recipe("cifar_resnet", 1, 1, 0.1, 0.0))
    assert get_recipe("cifar_resnet").epochs == 182


# name: (epochs, batch, lr, wd, nesterov, schedule, milestones, gamma, step_every, warmup)
PAPER_RECIPES = {
    "cifar_resnet": (182, 128, 0.1, 1e-4, False, "step", (91, 136), 0.1, None, 5),
    "cifar_vgg16_bn": (300, 256, 0.05, 5e-4, False, "every", (), 0.5, 30, 10),
    "cifar_vgg16_bn_retrain": (150, 256, 0.05, 5e-4, False, "every", (), 0.5, 30, 10),
    "cifar_densenet22": (300, 64, 0.1, 1e-4, True, "step", (150, 225), 0.1, None, 10),
    "cifar_wrn16_8": (200, 128, 0.1, 5e-4, True, "step", (60, 120, 160), 0.2, None, 5),
    "imagenet_resnet": (90, 256, 0.1, 1e-4, False, "step", (30, 60, 80), 0.1, None, 5),
    "voc_deeplabv3": (45, 16, 0.02, 1e-4, False, "poly", (), None, None, 0),
}


@pytest.mark.parametrize("name", sorted(PAPER_RECIPES))
def test_paper_recipes_match_the_design_table(name: str) -> None:
    epochs, batch, lr, wd, nesterov, schedule, milestones, gamma, step_every, warmup = (
        PAPER_RECIPES[name]
    )
    recipe = get_recipe(name)
    assert name in list_recipes()
    assert (recipe.epochs, recipe.batch_size, recipe.nesterov, recipe.schedule) == (
        epochs,
        batch,
        nesterov,
        schedule,
    )
    assert recipe.lr == pytest.approx(lr)
    assert recipe.weight_decay == pytest.approx(wd)
    assert recipe.momentum == pytest.approx(0.9)
    assert tuple(recipe.milestones) == pytest.approx(milestones)
    assert recipe.warmup_epochs == pytest.approx(warmup)
    if gamma is not None:
        assert recipe.gamma == pytest.approx(gamma)
    if step_every is not None:
        assert recipe.step_every == pytest.approx(step_every)
    if schedule == "poly":
        assert recipe.poly_power == pytest.approx(0.9)


def test_recipe_to_dict_is_plain_json() -> None:
    import json

    payload = get_recipe("cifar_wrn16_8").to_dict()
    assert json.loads(json.dumps(payload))["milestones"] == [60, 120, 160]
    assert payload["nesterov"] is True


# ---------------------------------------------------------------------------------------------
# training


def test_training_is_deterministic_for_a_seed_on_cpu() -> None:
    data = _synthetic_splits(augment="cifar")
    first = train(_tiny_model(0), data, SHORT, seed=3, device="cpu")
    second = train(_tiny_model(0), data, SHORT, seed=3, device="cpu")
    other_seed = train(_tiny_model(0), data, SHORT, seed=4, device="cpu")
    initial = _tiny_model(0).state_dict()
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    assert not torch.equal(first.conv.weight, initial["conv.weight"])  # it did train
    # The seed drives shuffling and augmentation: another seed gives other weights.
    assert not torch.equal(first.conv.weight, other_seed.conv.weight)
    assert not first.training  # handed back in eval mode


def test_training_learns_the_synthetic_task() -> None:
    data = _synthetic_splits(count=64)
    model = _tiny_model(0)
    before = evaluate(model, data.test, data, "cpu")
    recipe = Recipe("learn", epochs=15, batch_size=16, lr=0.1, weight_decay=0.0, schedule="cosine")
    after = evaluate(train(model, data, recipe, seed=0, device="cpu"), data.test, data, "cpu")
    assert after.loss < before.loss
    assert after.accuracy >= 0.9


def test_masked_entries_stay_exactly_zero_and_unmasked_ones_train() -> None:
    data = _synthetic_splits()
    model = _tiny_model(1)
    generator = torch.Generator().manual_seed(0)
    masks = {
        "conv.weight": torch.rand(model.conv.weight.shape, generator=generator) < 0.5,
        "fc.weight": torch.rand(model.fc.weight.shape, generator=generator) < 0.5,
        "fc.bias": torch.tensor([True, False, True, False]),
    }
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    assert all((initial[name][~mask] != 0).all() for name, mask in masks.items())
    trained = train(model, data, SHORT, seed=0, device="cpu", masks=masks)
    parameters = dict(trained.named_parameters())
    for name, keep in masks.items():
        # momentum and weight decay would move these off zero if the engine did not re-mask
        assert (parameters[name][~keep] == 0).all(), name
        assert (parameters[name][keep] != initial[name][keep]).all(), name
    assert not torch.equal(parameters["bn.weight"], initial["bn.weight"])  # unmasked: trains


def test_masks_are_applied_even_with_zero_epochs() -> None:
    data = _synthetic_splits()
    model = _tiny_model(2)
    keep = torch.zeros_like(model.fc.weight, dtype=torch.bool)
    keep[0] = True
    train(model, data, SHORT.with_epochs(0), seed=0, device="cpu", masks={"fc.weight": keep})
    assert (model.fc.weight[1:] == 0).all()
    assert (model.fc.weight[0] != 0).all()


def test_masks_naming_unknown_parameters_raise() -> None:
    data = _synthetic_splits()
    model = _tiny_model(0)
    with pytest.raises(KeyError, match="layer9.weight"):
        train(
            model,
            data,
            SHORT,
            seed=0,
            device="cpu",
            masks={"layer9.weight": torch.ones(3, dtype=torch.bool)},
        )


class _RecordingSGD(torch.optim.SGD):
    """SGD that logs the learning rate every step is taken with."""

    seen: list[float] = []

    def step(self, closure=None):  # type: ignore[override]
        _RecordingSGD.seen.append(self.param_groups[0]["lr"])
        return super().step(closure)


def test_learning_rate_follows_the_recipe_per_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _synthetic_splits(count=50)  # 50 // 8 = 6 steps per epoch, ragged batch dropped
    recipe = Recipe(
        "sched",
        epochs=4,
        batch_size=8,
        lr=0.2,
        weight_decay=0.0,
        milestones=(2,),
        gamma=0.5,
        warmup_epochs=1,
    )
    _RecordingSGD.seen = []
    monkeypatch.setattr(torch.optim, "SGD", _RecordingSGD)
    messages: list[str] = []
    train(_tiny_model(0), data, recipe, seed=0, device="cpu", progress=messages.append)
    steps_per_epoch = 6
    expected = [
        0.2 * recipe.lr_factor(step / steps_per_epoch) for step in range(4 * steps_per_epoch)
    ]
    assert _RecordingSGD.seen == pytest.approx(expected)
    assert len(messages) == 4 and messages[-1].startswith("epoch 4/4 loss ")


def test_train_set_overrides_the_training_split() -> None:
    data = _synthetic_splits()
    subset = data.train.subset(torch.arange(16))
    on_subset = train(_tiny_model(0), data, SHORT, seed=0, device="cpu", train_set=subset)
    on_full = train(_tiny_model(0), data, SHORT, seed=0, device="cpu")
    assert not torch.equal(on_subset.fc.weight, on_full.fc.weight)


# ---------------------------------------------------------------------------------------------
# evaluation


def test_evaluate_matches_a_hand_computation() -> None:
    torch.manual_seed(0)
    images = torch.rand(7, 2, 2, 2)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    data = DatasetSplits(
        "hand",
        ImageSet(images, labels),
        ImageSet(images, labels),
        ImageSet(images, labels),
        3,
        (0.25, 0.5),
        (0.5, 2.0),
    )
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))
    result = evaluate(model, data.test, data, "cpu", batch_size=3, keep_logits=True)  # 3+3+1

    mean = torch.tensor([0.25, 0.5]).view(1, 2, 1, 1)
    std = torch.tensor([0.5, 2.0]).view(1, 2, 1, 1)
    with torch.no_grad():
        logits = model((images - mean) / std)
    probabilities = logits.softmax(1)
    expected_loss = -probabilities[torch.arange(7), labels].log().mean().item()
    expected_correct = logits.argmax(1) == labels
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)
    assert torch.equal(result.correct, expected_correct)
    assert result.accuracy == pytest.approx(expected_correct.float().mean().item())
    assert result.error == pytest.approx(1 - result.accuracy)
    assert torch.allclose(result.logits, logits, atol=1e-6)
    assert evaluate(model, data.test, data, "cpu").logits is None  # only when asked


def test_evaluate_counts_correct_predictions_of_a_fixed_rule() -> None:
    # A "model" that predicts class 1 when the normalized mean pixel is positive, else 0.
    class Threshold(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            score = x.mean((1, 2, 3))
            return torch.stack([-score, score], 1) * 50

    images = (
        torch.tensor([0.9, 0.1, 0.8, 0.2, 0.7]).view(5, 1, 1, 1).expand(5, 1, 2, 2).contiguous()
    )
    labels = torch.tensor([1, 0, 0, 0, 1])  # the third one is wrong
    data = DatasetSplits(
        "rule",
        ImageSet(images, labels),
        ImageSet(images, labels),
        ImageSet(images, labels),
        2,
        (0.5,),
        (0.25,),
    )
    result = evaluate(Threshold(), data.test, data, "cpu", batch_size=2)
    assert result.correct.tolist() == [True, True, False, True, True]
    assert result.accuracy == pytest.approx(0.8)


def test_segmentation_evaluation_returns_mean_iou() -> None:
    # Predicted class = 1 where the (un-normalized) pixel is bright; torchvision-style dict output.
    class BrightIsOne(nn.Module):
        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"out": torch.cat([-x, x], 1) * 10}

    bright = torch.tensor(
        [[[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]
    ).unsqueeze(1)  # 2x1x2x3
    masks = torch.tensor(
        [[[1, 0, 0], [0, 1, IGNORE_INDEX]], [[0, 1, 0], [1, 1, 0]]], dtype=torch.int64
    )
    split = ImageSet(bright, masks)
    data = DatasetSplits("seg", split, split, split, 2, (0.5,), (0.5,))
    result = evaluate(BrightIsOne(), split, data, "cpu", batch_size=1)
    # Labelled pixels (ignore excluded), (target, prediction):
    # image 0: (1,1) (0,1) (0,0) (0,0) (1,1)      image 1: (0,0) (1,0) (0,0) (1,1) (1,1) (0,1)
    # class 0: intersection 4, predicted 5, target 6 -> IoU 4 / 7
    # class 1: intersection 4, predicted 6, target 5 -> IoU 4 / 7
    assert result.accuracy == pytest.approx((4 / 7 + 4 / 7) / 2)
    assert result.correct is None

    normalized = normalize_batch(bright, (0.5,), (0.5,))
    logits = torch.cat([-normalized, normalized], 1) * 10
    expected_loss = F.cross_entropy(logits, masks, ignore_index=IGNORE_INDEX).item()
    assert result.loss == pytest.approx(expected_loss, rel=1e-5)


def test_segmentation_iou_skips_classes_absent_from_both() -> None:
    class AlwaysZero(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.zeros(x.shape[0], 3, *x.shape[2:])
            logits[:, 0] = 1.0
            return logits

    images = torch.zeros(1, 1, 2, 2)
    masks = torch.tensor([[[0, 0], [1, 0]]])  # class 2 never appears, never predicted
    split = ImageSet(images, masks)
    data = DatasetSplits("seg3", split, split, split, 3, (0.0,), (1.0,))
    result = evaluate(AlwaysZero(), split, data, "cpu")
    assert result.accuracy == pytest.approx((3 / 4 + 0.0) / 2)


# ---------------------------------------------------------------------------------------------
# augmentation


def test_cifar_augment_keeps_shape_and_is_deterministic_for_a_seed() -> None:
    images = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    first = cifar_augment(images, torch.Generator().manual_seed(5))
    second = cifar_augment(images, torch.Generator().manual_seed(5))
    other = cifar_augment(images, torch.Generator().manual_seed(6))
    assert first.shape == images.shape and first.dtype == images.dtype
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    assert torch.equal(images, torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0)))


def test_cifar_augment_output_is_a_flipped_or_plain_crop_of_the_padded_image() -> None:
    images = torch.rand(24, 2, 6, 6, generator=torch.Generator().manual_seed(1)) + 0.1  # no zeros
    augmented = cifar_augment(images, torch.Generator().manual_seed(2))
    padded = F.pad(images, (4, 4, 4, 4))
    flips, shifts = 0, 0
    for index in range(len(images)):
        candidates = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if torch.equal(
                augmented[index],
                padded[index, :, dy : dy + 6, dx : dx + 6].flip(-1)
                if flip
                else padded[index, :, dy : dy + 6, dx : dx + 6],
            )
        ]
        assert candidates, f"image {index} is not a crop of its padded self"
        flips += candidates[0][2]
        shifts += (candidates[0][0], candidates[0][1]) != (4, 4)
    assert 0 < flips < len(images)  # both flipped and unflipped images occur
    assert shifts > len(images) // 2  # most crops move


# ---------------------------------------------------------------------------------------------
# device and threads


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("cores,workers", [(2, 1), (2, 2), (2, 4), (8, 3), (16, 4), (1, 1)])
def test_configure_worker_threads_do_not_depend_on_workers_or_cores(
    cores, workers, monkeypatch, restore_threads
) -> None:
    # The thread count changes float results (docs/statistics.md#determinism), so -n 0/2/4
    # and machines with different core counts must all run the same number: one by default.
    monkeypatch.delenv(rp_device.THREADS_ENV, raising=False)
    monkeypatch.setattr(rp_device.os, "cpu_count", lambda: cores)
    device = rp_device.configure_worker("gw0", workers)
    assert torch.get_num_threads() == 1
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_configure_worker_reads_xdist_environment(monkeypatch, restore_threads) -> None:
    monkeypatch.delenv(rp_device.THREADS_ENV, raising=False)
    monkeypatch.setattr(rp_device.os, "cpu_count", lambda: 12)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    rp_device.configure_worker()
    assert torch.get_num_threads() == 1


def test_configure_worker_thread_override(monkeypatch, restore_threads) -> None:
    monkeypatch.setenv(rp_device.THREADS_ENV, "3")
    rp_device.configure_worker("gw0", 4)
    assert torch.get_num_threads() == 3
    monkeypatch.setenv(rp_device.THREADS_ENV, "zero")
    with pytest.raises(ValueError, match="ROBUSTPRUNE_THREADS must be a positive integer"):
        rp_device.configure_worker("gw0", 4)


def test_worker_index() -> None:
    assert rp_device.worker_index(None) == 0
    assert rp_device.worker_index("master") == 0
    assert rp_device.worker_index("gw7") == 7


# ---------------------------------------------------------------------------------------------
# the embedded default


@pytest.mark.slow
def test_digits_recipe_trains_resnet20_to_97_percent() -> None:
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = models.create("resnet20", num_classes=10, in_channels=1, input_size=8)
    trained = train(model, data, "digits", seed=0, device=rp_device.default_device())
    result = evaluate(trained, data.test, data, rp_device.default_device())
    assert result.accuracy >= 0.97, f"digits test accuracy {result.accuracy:.4f}"


# ---------------------------------------------------------------------------------------------
# memory layout


def _default_layout(model: nn.Module) -> bool:
    return all(tensor.is_contiguous() for tensor in model.state_dict().values())


def test_training_and_evaluation_hand_the_model_back_in_the_default_layout() -> None:
    data = _synthetic_splits()
    model = train(_tiny_model(0), data, SHORT, seed=0, device="cpu")
    assert _default_layout(model)
    evaluate(model, data.test, data, "cpu")
    assert _default_layout(model)


def test_channels_last_converts_inside_the_block_and_restores_after_an_error() -> None:
    model = _tiny_model(0)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    with pytest.raises(RuntimeError, match="inside"):
        with rp_device.channels_last(model):
            assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
            assert not model.conv.weight.is_contiguous()
            raise RuntimeError("inside")
    assert _default_layout(model)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name  # a layout never changes values


def test_training_runs_in_channels_last(monkeypatch: pytest.MonkeyPatch) -> None:
    import robustprune.train as engine

    seen = []
    original = engine._run_recipe

    def spy(model, *args, **kwargs):
        seen.append(model.conv.weight.is_contiguous(memory_format=torch.channels_last))
        return original(model, *args, **kwargs)

    monkeypatch.setattr(engine, "_run_recipe", spy)
    train(_tiny_model(0), _synthetic_splits(), SHORT, seed=0, device="cpu")
    assert seen == [True]


def test_the_engine_digest_changes_with_the_layout_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Artifact keys must change when the code that computed them changes: the engine's digest
    covers ``device`` (where ``channels_last`` lives), not only train.py."""
    import robustprune.train as engine

    before = engine.engine_digest()
    real = engine.builtin_digest
    monkeypatch.setattr(
        engine,
        "builtin_digest",
        lambda name: real(name) + ("edited" if name == rp_device.channels_last.__module__ else ""),
    )
    assert engine.engine_digest() != before
