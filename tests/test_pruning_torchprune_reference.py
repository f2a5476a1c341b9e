"""FT and PFP against the authors' own code: per-layer kept filters/channels on a fixed resnet20.

The reference (tests/fixtures/torchprune_reference_resnet20.json) is what lucaslie/torchprune's
FilterThresNet and PFPNet keep on the network and sample S of tests/torchprune_reference_net.py
at prune ratio 0.5 (BatchNorm and biases count as kept, as in torchprune); the script that made
it, tests/fixtures/make_torchprune_reference.py, says how to regenerate it. torchprune is not
needed here. FT and PFP must keep torchprune's output filters (FT) and input channels (PFP)
to +-1 per layer.

Why FT is not held to exact counts (measured on this network): torchprune's FT gives every
layer one keep fraction, so layers of equal width lose filters together and the only reachable
ratios near 0.5 are 0.4937 (where torchprune lands) and 0.5068, both further from the target
than the harness's 0.5-point tolerance allows. torchprune also judges dead filters in one pass
over S, while the harness repeats to a fixed point; emulating that single pass at torchprune's
keep fraction reproduces its counts exactly. Today ours differs by one filter in four layers.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import torchprune_reference_net as ref

from robustprune.pruning import default_registry, parameter_count, prune_ratio
from robustprune.pruning.masks import combine_masks

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "torchprune_reference_resnet20.json").read_text()
)
# method -> (which count torchprune's method decides, allowed difference per layer)
CHECKS = {"FT": ("kept_out", 1), "PFP": ("kept_in", 1)}


@pytest.fixture(scope="module")
def network_and_sample():
    return ref.reference_network(), ref.reference_sample()


def test_reference_is_for_this_network_and_sample(network_and_sample):
    model, sample = network_and_sample
    settings = ref.settings()
    assert {key: REFERENCE[key] for key in settings} == settings
    expected = REFERENCE["fingerprint"]
    for key, value in ref.fingerprint(model, sample).items():
        assert math.isclose(value, expected[key], rel_tol=1e-6), (
            f"{key}: {value} here, {expected[key]} when the reference was made; the network or "
            "S changed, regenerate the reference (tests/fixtures/make_torchprune_reference.py)"
        )


@pytest.mark.parametrize("method", sorted(CHECKS))
def test_kept_counts_match_torchprune(method, network_and_sample):
    parent, sample = network_and_sample
    count_key, allowed = CHECKS[method]
    expected = REFERENCE["methods"][method][count_key]

    model = copy.deepcopy(parent)
    torch.manual_seed(0)
    masks = combine_masks(default_registry().create(method).prune(model, ref.PRUNE_RATIO, sample))
    weights = {
        name: parameter * masks[name] if name in masks else parameter
        for name, parameter in model.named_parameters()
    }
    counts = {name: c[count_key[5:]] for name, c in ref.layer_counts(model, weights).items()}
    achieved = prune_ratio(model, masks, parameter_count(parent))

    assert counts.keys() == expected.keys()
    differ = {
        name: f"{counts[name]} vs {expected[name]} ({counts[name] - expected[name]:+d})"
        for name in expected
        if abs(counts[name] - expected[name]) > allowed
    }
    assert not differ, (
        f"{method} {count_key} per layer, robustprune vs torchprune (allowed +-{allowed}); "
        f"prune ratio {achieved:.4f} vs torchprune's "
        f"{REFERENCE['methods'][method]['prune_ratio']:.4f}: {differ}"
    )
