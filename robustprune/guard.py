"""What the harness holds a pruner to around ``prune``, beyond the masks' names, shapes and ratio.

- Every random generator a pruner may use (torch's global one on every device, numpy's
  global one, Python's ``random``) is seeded from the case (seed and step) just before
  ``prune`` and restored after it, so a pruner's result never depends on what ran before it
  in the process (a parent trained or loaded, another case, ``-n 0`` or ``-n 4``).
- The network handed to ``prune`` must come back unchanged: a pruner returns masks, and the
  harness applies them and retrains. Changed, added or removed tensors are refused, naming them.
- A pruner that declares ``structured = True`` must return exactly structured masks: every
  weight mask is "output filter kept" and "input channel kept" combined, entry by entry
  (``keep[o, i, ...] = filter_kept[o] and channel_kept[i]``), which is what removing whole
  filters (FT), whole input channels (PFP) and dead whole units leaves.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from robustprune.pruning import InvalidMaskError, Masks


class PrunerChangedModelError(RuntimeError):
    """A pruner changed the network it was given instead of only returning masks."""


class UnstructuredMaskError(InvalidMaskError):
    """A pruner declaring ``structured = True`` returned masks that are not whole units."""


def prune_seed(seed: int, step: int) -> int:
    """The seed of every random generator during ``prune`` at ``step`` of a curve of ``seed``:
    distinct per (seed, step), the same in every process."""
    digest = hashlib.sha256(f"robustprune prune {int(seed)} {int(step)}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@contextmanager
def seeded_generators(seed: int) -> Iterator[None]:
    """Seed torch (every device), numpy and ``random`` with ``seed``; restore their states after."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    torch_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CUDA generators too
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def check_unchanged(pruner_name: str, before: dict[str, torch.Tensor], model: nn.Module) -> None:
    """Raise PrunerChangedModelError naming the tensors ``prune`` changed, added or removed;
    ``before`` is the state dict of the network ``model`` was copied from."""
    after = model.state_dict()
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = [
        name
        for name in before
        if name in after and not _same(after[name].detach(), before[name].detach())
    ]
    problems = []
    for label, names in (("changed", changed), ("added", added), ("removed", removed)):
        if names:
            shown = ", ".join(repr(name) for name in names[:5])
            problems.append(f"{label} {shown}{' ...' if len(names) > 5 else ''}")
    if problems:
        raise PrunerChangedModelError(
            f"pruner {pruner_name!r} modified the network it was given ({'; '.join(problems)}); "
            "prune(model, prune_ratio, sample) must only return masks (True = keep) and leave "
            "the model as it was: the harness applies the masks and retrains. Compute scores "
            "on copies (e.g. weight.detach().abs(), not weight.abs_())"
        )


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shape, dtype and values, NaN equal to NaN (a diverged network is not "changed")."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    return a.is_floating_point() and bool(((a == b) | (a.isnan() & b.isnan())).all())


def check_structured(pruner_name: str, masks: Masks) -> None:
    """Raise UnstructuredMaskError unless every mask of two or more dimensions is exactly
    ``filter_kept[o] and channel_kept[i]`` over its output filters o and input channels i."""
    for name, mask in masks.items():
        if mask.dim() < 2:
            continue
        units = mask.reshape(mask.shape[0], mask.shape[1], -1)
        whole = units.all(-1)
        partial = (units.any(-1) & ~whole).nonzero()
        if len(partial):
            filter_index, channel = (int(i) for i in partial[0])
            kept = int(units[filter_index, channel].sum())
            raise UnstructuredMaskError(
                f"pruner {pruner_name!r} declares structured = True, but its mask for {name!r} "
                f"keeps {kept} of {units.shape[-1]} entries of output filter {filter_index}, "
                f"input channel {channel} ({len(partial)} such partly kept unit(s)); a "
                "structured pruner removes whole output filters or whole input channels: "
                "return whole units, or declare structured = False"
            )
        filters, channels = whole.any(1), whole.any(0)
        expected = filters[:, None] & channels[None, :]
        stray = (expected & ~whole).nonzero()
        if len(stray):
            filter_index, channel = (int(i) for i in stray[0])
            raise UnstructuredMaskError(
                f"pruner {pruner_name!r} declares structured = True, but its mask for {name!r} "
                f"removes input channel {channel} from output filter {filter_index} only, while "
                f"both are kept elsewhere ({len(stray)} such unit(s)); a structured pruner "
                "removes whole output filters or whole input channels (keep[o, i] = "
                "filter_kept[o] and channel_kept[i]): return whole units, or declare "
                "structured = False"
            )
