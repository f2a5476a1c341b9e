"""Searching a method's knob so that the achieved prune ratio meets the target.

Structured propagation and dead-structure removal make the achieved ratio overshoot what a
method's knob asks for; like the reference, every method root-finds its knob (a nominal
ratio, a filter count, PFP's epsilon) on the ratio achieved after both, so the budget is spent
on live structure.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from torch import Tensor, nn

from robustprune.pruning.dead import MAX_ROUNDS, DeadStructure
from robustprune.pruning.masks import GlobalThreshold, Masks, parameter_count, prune_ratio
from robustprune.pruning.sample import Sample
from robustprune.pruning.structure import channel_structure

RATIO_TOLERANCE = 1e-3
"""How close (in prune ratio, 0.1 points) a knob search must land before it stops early; a
fifth of what mask validation allows, and about one filter of a CIFAR ResNet."""
STRUCTURED_TOLERANCE = 2.5e-3
"""The same for filter and channel knobs (FT, PFP): one filter with its consumer slice is up to
0.4 % of a CIFAR ResNet-20, so half of what mask validation allows (0.5 points)."""
AIMING_ROUNDS = 4
"""Passes over S spent aiming the knob before falling back to bisection on live masks."""


def fit_live(
    make_masks: Callable[[float], Masks],
    remove_dead: Callable[[Masks, int], Masks],
    achieved: Callable[[Masks], float],
    low: float,
    high: float,
    target: float,
    integer: bool = False,
    tolerance: float = RATIO_TOLERANCE,
) -> Masks:
    """Masks whose achieved ratio is closest to ``target``, searching a knob in [low, high]
    (higher removes more); each candidate goes through the cheap ``make_masks`` and then the
    expensive ``remove_dead(masks, rounds)`` (one pass over S per round, at most ``rounds``,
    until nothing changes). Stops within ``tolerance``.

    Dead structure only adds to what a knob removes, so the knob is first aimed with the cheap
    masks alone, then re-aimed by the overshoot that dead-structure removal added (a few passes
    over S instead of one per bisection step); a bisection on the live masks finishes the job.
    Candidates are judged after one round of dead-structure removal; a last pass checks that
    the chosen masks hold no more dead structure (one more round would change nothing), and
    only if they do is the search repeated with every candidate taken to its fixed point,
    going on from the round already done for it. So the result is always the fixed-point
    search's, at one pass over S per candidate plus one where the candidates settle in one
    round (the common case). Where the chosen candidate's own pass found nothing to remove,
    it is a fixed point already and the check costs no pass (``DeadStructure.remove``
    remembers such results); for structured methods, whose cheap masks carry the structural
    dead units (structure.py), that is the usual case on networks without dead ReLUs.
    """
    cheap: dict[float, Masks] = {}
    first_round: dict[float, Masks] = {}
    settled: dict[float, Masks] = {}

    def make_cheap(knob: float) -> Masks:
        if knob not in cheap:
            cheap[knob] = make_masks(knob)
        return cheap[knob]

    def one_round(knob: float) -> Masks:
        if knob not in first_round:
            first_round[knob] = remove_dead(make_cheap(knob), 1)
        return first_round[knob]

    def fixed_point(knob: float) -> Masks:
        # the fixed point from the cheap masks begins with the round one_round did: go on
        if knob not in settled:
            start = first_round.get(knob, make_cheap(knob))
            settled[knob] = remove_dead(start, MAX_ROUNDS)
        return settled[knob]

    search = (make_cheap, achieved, low, high, target, integer, tolerance)
    masks = _search(*search, one_round)
    chosen = next(knob for knob, found in first_round.items() if found is masks)
    if achieved(fixed_point(chosen)) == achieved(masks):  # nested: nothing moved
        return masks
    return _search(*search, fixed_point)


def _search(
    make_cheap: Callable[[float], Masks],
    achieved: Callable[[Masks], float],
    low: float,
    high: float,
    target: float,
    integer: bool,
    tolerance: float,
    make_live: Callable[[float], Masks],
) -> Masks:
    """The knob search of ``fit_live``: aim with the cheap masks, re-aim by the overshoot of the
    live ones (``make_live``), then bisect on live masks."""
    aim, best, best_error = target, None, float("inf")
    for _ in range(AIMING_ROUNDS):
        knob = _bisect(make_cheap, achieved, low, high, aim, integer, 60, tolerance / 4)[0]
        masks = make_live(knob)
        ratio = achieved(masks)
        if abs(ratio - target) < best_error:
            best, best_error = masks, abs(ratio - target)
        if best_error <= tolerance:
            return best
        if ratio > target:
            high = knob  # dead structure only adds removals: the answer is at a lower knob
        else:
            low = knob
        aim -= ratio - target
        if not 0.0 <= aim < 1.0:
            break
    _knob, masks, ratio = _bisect(make_live, achieved, low, high, target, integer, 30, tolerance)
    return masks if abs(ratio - target) < best_error else best


def _bisect(
    make_masks: Callable[[float], Masks],
    achieved: Callable[[Masks], float],
    low: float,
    high: float,
    target: float,
    integer: bool,
    iterations: int,
    tolerance: float,
) -> tuple[float, Masks, float]:
    """(knob, masks, achieved ratio) closest to ``target``; ``high`` is tried first, so a search
    with nothing to overshoot costs one evaluation."""
    high_masks = make_masks(high)
    high_ratio = achieved(high_masks)
    if high_ratio <= target + tolerance:
        return high, high_masks, high_ratio
    low_masks = make_masks(low)
    low_ratio = achieved(low_masks)
    if low_ratio >= target:
        return low, low_masks, low_ratio
    for _ in range(iterations):
        if integer and high - low <= 1:
            break
        middle = (low + high) // 2 if integer else (low + high) / 2
        masks = make_masks(middle)
        ratio = achieved(masks)
        if ratio < target:
            low, low_masks, low_ratio = middle, masks, ratio
        else:
            high, high_masks, high_ratio = middle, masks, ratio
        if abs(ratio - target) < tolerance:
            break
    if target - low_ratio <= high_ratio - target:
        return low, low_masks, low_ratio
    return high, high_masks, high_ratio


def ratio_meter(model: nn.Module) -> Callable[[Masks], float]:
    """``masks -> achieved prune ratio`` on ``model`` (the network being pruned, whose every
    parameter counts, so its parameter count is the parent's)."""
    parent_count = parameter_count(model)
    return lambda masks: prune_ratio(model, masks, parent_count)


def fit_live_threshold(
    model: nn.Module, scores: dict[str, Tensor], sample: Sample, target: float
) -> Masks:
    """Masks of a global-threshold method (WT, SiPP): the lowest ``scores`` network-wide go so
    that ``target`` is met once dead weights (judged on ``sample``) are removed too; the
    nominal ratio handed to the threshold is searched in [0, target]."""
    parent_count = parameter_count(model)
    ranking = GlobalThreshold(model, scores)
    closure = structural_closure(model, sample)
    return fit_live(
        lambda ratio: closure(ranking.masks(ratio, parent_count)),
        DeadStructure(model, sample).remove,
        ratio_meter(model),
        0.0,
        target,
        target,
    )


def structural_closure(model: nn.Module, sample: Sample) -> Callable[[Masks], Masks]:
    """What a weight method's knob search applies to its cheap masks: the channel groups'
    structured propagation (structure.py), so whole channels left constant or unread by the
    removed weights are counted before a pass over S finds them (the pass would remove them
    anyway: the result is still the fixed point of the dead-structure rules). Without a sample,
    or where the network cannot be traced, the masks are taken as they are (with a warning):
    the search then needs more passes, not other rules."""
    if not sample:
        return lambda masks: masks
    try:
        with warnings.catch_warnings():  # it would speak of pruning parameters WT never touches
            warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
            structure = channel_structure(model, sample[0][0][:2])
    except Exception as error:  # a plug-in network Torch-Pruning cannot trace
        warnings.warn(
            f"could not trace the channel groups of {type(model).__name__} ({error}); the "
            "knob search goes on without them and may need more passes over S",
            stacklevel=2,
        )
        return lambda masks: masks
    return structure.propagate
