"""Speed-ups of a prune step must not move its masks: the masks of every built-in method on a
fixed seeded network and sample, two iterative steps, hash to what the step computed before
the knob search stopped paying a pass over S per candidate (recorded at commit b3c2c21, the
last commit before that change). FT and PFP were re-recorded when structured propagation
began to follow the data flow inside a channel group (a consumer reads only the producers
upstream of it): their knob searches now see on the cheap masks what a pass over S used to
find, and so land on other knobs. SiPP was re-recorded when weight methods began to close
their cheap masks over the same groups (``budget.structural_closure``); WT's masks on this
fixture did not move.

A change that is meant to move masks (a new rule, a new tie-break) updates ``EXPECTED`` and
says why in its commit; a torch or BLAS upgrade can move them too (sensitivities are float
sums), then re-record on the old code first.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from robustprune.models import create
from robustprune.pruning import apply_masks, default_registry
from robustprune.pruning.masks import Masks, combine_masks

EXPECTED = {
    "WT": "41b0365ab00180b2da738296535e0b5a047291d8d04a46ce32396d424ac5222f",
    "SiPP": "1d896a2707b76208adeb9281e744435dccba4ff1aefc78baa983b3f9b6837fa4",
    "FT": "8555946acfde6b654a02f614093fbdd60c692ec22a12f40e6291c20a427ba22f",
    "PFP": "543f22ee8aef952b66dab63f1d26f099fbb791f97a4296e31a6f12940c6e4665",
}
RATIOS = (0.5, 0.8)


def masks_digest(steps: list[Masks]) -> str:
    """sha256 over every step's masks, by sorted parameter name, as raw bool bytes."""
    digest = hashlib.sha256()
    for masks in steps:
        for name in sorted(masks):
            digest.update(name.encode())
            digest.update(masks[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def iterative_masks(method: str) -> list[Masks]:
    """Masks of ``method`` at each ratio of RATIOS, each step pruning the previous result."""
    torch.manual_seed(0)
    model = create("resnet20", num_classes=10, in_channels=3, input_size=16).eval()
    generator = torch.Generator().manual_seed(1)
    sample = [(torch.randn(64, 3, 16, 16, generator=generator), torch.zeros(64, dtype=torch.long))]
    pruner = default_registry().create(method)
    steps: list[Masks] = []
    previous: Masks = {}
    for ratio in RATIOS:
        masks = combine_masks(pruner.prune(model, ratio, sample), previous)
        apply_masks(model, masks)
        steps.append(masks)
        previous = masks
    return steps


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_masks_are_unchanged_by_speed_ups(method: str) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # float sums in one fixed order
    try:
        digest = masks_digest(iterative_masks(method))
    finally:
        torch.set_num_threads(threads)
    assert digest == EXPECTED[method], f"{method} masks moved: {digest}"


def test_knob_search_equals_the_fixed_point_search_when_one_round_is_not_enough() -> None:
    """budget.fit_live judges candidates after one round of dead-structure removal; where the
    chosen masks are not settled it searches again to the fixed point, going on from the
    round it did. Either way the result is the plain fixed-point search's."""
    total = 1000

    def make_masks(knob: float) -> Masks:
        keep = torch.ones(total, dtype=torch.bool)
        keep[: int(knob)] = False
        return {"w": keep}

    passes: list[int] = []

    def remove_dead(masks: Masks, rounds: int) -> Masks:
        """Each round (a 'pass over S') removes the ten entries after the removed prefix while
        the prefix ends in the first 20 of a block of 50: from 350, two rounds remove up to 370,
        a third changes nothing."""
        keep = masks["w"].clone()
        for _ in range(rounds):
            passes.append(1)
            first = int(torch.nonzero(keep)[0])
            if first % 50 >= 20:
                break
            keep[first : first + 10] = False
        return {"w": keep}

    def achieved(masks: Masks) -> float:
        return 1 - int(masks["w"].sum()) / total

    from robustprune.pruning import budget

    for target in (0.36, 0.5, 0.62):
        found = budget.fit_live(make_masks, remove_dead, achieved, 0, total, target, integer=True)
        cheap: dict = {}

        def cheap_masks(knob: float, cheap=cheap) -> Masks:
            return cheap.setdefault(knob, make_masks(knob))

        reference = budget._search(
            cheap_masks,
            achieved,
            0,
            total,
            target,
            True,
            budget.RATIO_TOLERANCE,
            lambda knob: remove_dead(cheap_masks(knob), budget.MAX_ROUNDS),
        )
        assert torch.equal(found["w"], reference["w"]), target
    unsettled = remove_dead(remove_dead(make_masks(350), 1), 1)["w"]
    assert int(unsettled.sum()) == total - 370  # one round is not the fixed point there
