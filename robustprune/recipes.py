"""Training recipes: the paper's schedules (SGD, momentum 0.9, learning rate stepped per iteration)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from robustprune.registry import Registry


@dataclass(frozen=True)
class Recipe:
    """One training schedule. Epoch counts and milestones are in epochs; ``lr`` is the peak rate."""

    name: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    momentum: float = 0.9
    nesterov: bool = False
    schedule: str = (
        "step"  # "step" (milestones), "every" (gamma every step_every), "poly", "cosine"
    )
    milestones: tuple[float, ...] = ()
    gamma: float = 0.1
    step_every: float = 0.0
    warmup_epochs: float = 0.0
    poly_power: float = 0.9

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"recipe {self.name!r}: unknown schedule {self.schedule!r}; valid: {sorted(SCHEDULES)}"
            )
        if self.schedule == "every" and self.step_every <= 0 and self.epochs > 0:
            raise ValueError(
                f"recipe {self.name!r}: schedule 'every' needs step_every > 0 (epochs), "
                f"got {self.step_every}"
            )
        if self.epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(
                f"recipe {self.name!r}: epochs ({self.epochs}) must be >= 0, batch_size "
                f"({self.batch_size}) >= 1 and lr ({self.lr}) > 0"
            )

    def lr_factor(self, epoch: float) -> float:
        """Multiplier of ``lr`` at a (fractional) epoch: linear warmup, then the schedule."""
        if self.warmup_epochs > 0 and epoch < self.warmup_epochs:
            return (epoch + 1e-3) / self.warmup_epochs
        if self.schedule == "step":
            return self.gamma ** sum(1 for m in self.milestones if epoch >= m)
        if self.schedule == "every":
            return self.gamma ** math.floor(epoch / self.step_every)
        if self.schedule == "poly":
            return max(0.0, 1.0 - epoch / max(self.epochs, 1e-9)) ** self.poly_power
        return 0.5 * (1.0 + math.cos(math.pi * min(epoch / max(self.epochs, 1e-9), 1.0)))

    def with_epochs(self, epochs: int, name: str | None = None) -> Recipe:
        """The same schedule compressed or stretched to ``epochs`` (milestones scale along)."""
        scale = epochs / self.epochs if self.epochs else 1.0
        return replace(
            self,
            name=name or f"{self.name}@{epochs}ep",
            epochs=epochs,
            milestones=tuple(m * scale for m in self.milestones),
            step_every=self.step_every * scale,
            warmup_epochs=self.warmup_epochs * scale,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (cache keys and records use it)."""
        return asdict(self)


SCHEDULES = {"step", "every", "poly", "cosine"}


def _as_recipe(name: str, recipe: Recipe, origin: str) -> Recipe:
    """A plugin's recipe under the name it is registered as (the entry point's or the hook's)."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe {name!r} must be a robustprune.recipes.Recipe, got {recipe!r}")
    return recipe if recipe.name == name else replace(recipe, name=name)


RECIPES: Registry[Recipe] = Registry("recipes", check=_as_recipe)
"""Every training recipe: the paper's, entry points (group ``robustprune.recipes``) and
``pytest_robustprune_recipes``."""


def register_recipe(recipe: Recipe, origin: str = "robustprune (robustprune.recipes)") -> Recipe:
    """Add ``recipe`` under its name; a duplicate name raises naming both origins."""
    return RECIPES.register(recipe.name, recipe, origin)


def get_recipe(name: str) -> Recipe:
    """The registered recipe called ``name``; unknown names raise listing the valid ones."""
    return RECIPES.get(name)


def list_recipes() -> list[str]:
    """Names of all registered recipes, sorted."""
    return RECIPES.names()


# The paper's recipes (its training-recipe table).
register_recipe(Recipe("cifar_resnet", 182, 128, 0.1, 1e-4, milestones=(91, 136), warmup_epochs=5))
_VGG16 = register_recipe(
    Recipe(
        "cifar_vgg16_bn",
        300,
        256,
        0.05,
        5e-4,
        schedule="every",
        step_every=30,
        gamma=0.5,
        warmup_epochs=10,
    )
)
# The paper retrains VGG16 for half the epochs with the same per-epoch schedule.
register_recipe(replace(_VGG16, name="cifar_vgg16_bn_retrain", epochs=150))
register_recipe(
    Recipe(
        "cifar_densenet22",
        300,
        64,
        0.1,
        1e-4,
        nesterov=True,
        milestones=(150, 225),
        warmup_epochs=10,
    )
)
register_recipe(
    Recipe(
        "cifar_wrn16_8",
        200,
        128,
        0.1,
        5e-4,
        nesterov=True,
        milestones=(60, 120, 160),
        gamma=0.2,
        warmup_epochs=5,
    )
)
register_recipe(
    Recipe("imagenet_resnet", 90, 256, 0.1, 1e-4, milestones=(30, 60, 80), warmup_epochs=5)
)
register_recipe(Recipe("voc_deeplabv3", 45, 16, 0.02, 1e-4, schedule="poly"))

# The embedded default: small enough to train a digits parent in seconds on 2 CPU cores.
register_recipe(Recipe("digits", 15, 128, 0.1, 5e-4, schedule="cosine", warmup_epochs=1))
register_recipe(Recipe("digits_retrain", 2, 128, 0.05, 5e-4, schedule="cosine"))
