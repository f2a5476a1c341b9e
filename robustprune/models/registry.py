"""Model registry: named constructors, a sorted filterable listing, loud failures.

Every constructor has the signature ``fn(num_classes, in_channels, input_size) -> nn.Module``
where ``input_size`` is ``(height, width)`` in pixels. Names are unique: registering a name
twice raises (torchvision's behaviour, not timm's silent overwrite).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from torch import nn

from robustprune.registry import Registry, UnknownNameError

Constructor = Callable[[int, int, tuple[int, int]], nn.Module]

TIMM_PREFIX = "timm:"


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one model name."""

    name: str
    family: str
    source: str
    constructor: Constructor
    description: str


UnknownModelError = UnknownNameError
"""A model name that is not registered (catchable as ValueError or KeyError)."""


def _as_model_info(name: str, model: Any, origin: str, family: str | None = None) -> ModelInfo:
    """What the registry holds for ``name``: ``model`` if it is a ModelInfo, else the ModelInfo
    of the constructor ``model`` (family: the defining module's last component)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"model name must be a non-empty string, got {name!r}")
    if name.startswith(TIMM_PREFIX):
        raise ValueError(
            f"model name {name!r} uses the reserved prefix {TIMM_PREFIX!r} "
            "(it routes to timm.create_model)"
        )
    if isinstance(model, ModelInfo):
        return model
    if not callable(model):
        raise TypeError(
            f"model {name!r} must be a constructor fn(num_classes, in_channels, input_size), "
            f"got {model!r}"
        )
    doc = (model.__doc__ or "").strip().splitlines()
    return ModelInfo(
        name=name,
        family=family if family is not None else model.__module__.rsplit(".", 1)[-1],
        source=origin,
        constructor=model,
        description=doc[0] if doc else "",
    )


MODELS: Registry[ModelInfo] = Registry(
    "models",
    check=_as_model_info,
    hint=f"; or {TIMM_PREFIX}<name> for any timm model",
    code_of=lambda info: info.constructor,
)
"""Every model: the built-in families, ``@register_model``, entry points (group
``robustprune.models``) and ``pytest_robustprune_models``."""


def register_model(
    name: str | Constructor | None = None,
    *,
    family: str | None = None,
    source: str = "robustprune",
) -> Callable[[Constructor], Constructor] | Constructor:
    """Register a constructor under ``name`` (default: the function's name); raise on duplicates.

    Usable as ``@register_model``, ``@register_model()`` or ``@register_model("name", family=...)``.
    ``family`` defaults to the defining module's last component (``resnet`` for ``models/resnet.py``).
    """
    if callable(name):
        return register_model()(name)

    def decorator(fn: Constructor) -> Constructor:
        model_name = name if name is not None else fn.__name__
        MODELS.register(model_name, _as_model_info(model_name, fn, source, family), source)
        return fn

    return decorator


def unregister_model(name: str) -> None:
    """Remove ``name`` from the registry (for tests and plugins that register temporarily)."""
    MODELS.unregister(name)


def list_models(include: str | Iterable[str] | None = None) -> list[str]:
    """Registered names, sorted; ``include`` keeps those matching any fnmatch pattern."""
    names = MODELS.names()
    if include is None:
        return names
    patterns = [include] if isinstance(include, str) else list(include)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``; raises UnknownModelError listing the valid names."""
    return MODELS.get(name)


def create(
    name: str,
    num_classes: int = 10,
    in_channels: int = 3,
    input_size: int | tuple[int, int] = 32,
) -> nn.Module:
    """Build model ``name`` with random weights; ``timm:<name>`` builds any timm model.

    ``input_size`` is the image side in pixels (int) or ``(height, width)``; nothing is downloaded.
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
    size = normalize_input_size(input_size)
    if name.startswith(TIMM_PREFIX):
        return _create_timm(name[len(TIMM_PREFIX) :], num_classes, in_channels)
    return model_info(name).constructor(num_classes, in_channels, size)


def normalize_input_size(input_size: int | tuple[int, int]) -> tuple[int, int]:
    """``32`` -> ``(32, 32)``; validates that both sides are positive ints (pixels)."""
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        size: tuple = (input_size, input_size)
    else:
        size = tuple(input_size)
    if len(size) != 2 or not all(
        isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size
    ):
        raise ValueError(
            f"input_size must be a positive int or a (height, width) pair of them, got {input_size!r}"
        )
    return size  # type: ignore[return-value]


def _create_timm(timm_name: str, num_classes: int, in_channels: int) -> nn.Module:
    import timm  # only for timm:<name> architectures; importing timm costs ~2.7 s on top of torch

    if not timm.is_model(timm_name):
        raise UnknownNameError(
            f"unknown timm model {timm_name!r} (from {TIMM_PREFIX + timm_name!r}); "
            "see timm.list_models() for valid names"
        )
    return timm.create_model(
        timm_name, pretrained=False, num_classes=num_classes, in_chans=in_channels
    )
