"""Cases of one architecture are scheduled as one group (the worker that trains its parents)."""

from __future__ import annotations

import pytest

from robustprune.plugin.scheduling import case_group


@pytest.mark.parametrize(
    "nodeid, group",
    [
        (
            "benchmarks/test_prune_potential.py::test_prune_potential[digits-resnet20-WT]",
            "digits-resnet20",
        ),
        (
            "benchmarks/test_prune_potential.py::test_prune_potential[digits-resnet20-SiPP]",
            "digits-resnet20",
        ),
        (
            "benchmarks/test_prune_potential.py::test_prune_potential[cifar10_mix1-vgg16_bn-PFP]",
            "cifar10_mix1-vgg16_bn",
        ),
        ("tests/test_x.py::test_plain", "tests/test_x.py::test_plain"),
        ("tests/test_x.py::test_param[3]", "tests/test_x.py::test_param[3]"),
        ("benchmarks/t.py::test_prune_potential[digits-resnet20-WT]@custom", "custom"),
    ],
)
def test_case_group(nodeid: str, group: str) -> None:
    assert case_group(nodeid) == group
