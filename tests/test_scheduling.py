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


class FakeNode:
    """What the xdist scheduler uses of a worker: send work, shut down."""

    def __init__(self, name: str) -> None:
        self.gateway = type("Gateway", (), {"id": name})()
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def schedule(nodeids: list[str], workers: int) -> list[list[str]]:
    """The case ids each of ``workers`` fake workers is sent first."""
    from robustprune.plugin.scheduling import make_case_group_scheduler

    config = type("Config", (), {})()
    config.option = type("Option", (), {"loadscopereorder": True, "maxworkerrestart": None})()
    config.getvalue = lambda name: [f"{workers}*popen"] if name == "tx" else None
    scheduler = make_case_group_scheduler(config, None)
    nodes = [FakeNode(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, nodeids)
    scheduler.schedule()
    return [[nodeids[i].split("[")[1][:-1] for i in node.sent] for node in nodes]


def ids(*cases: str) -> list[str]:
    return [f"benchmarks/test_prune_potential.py::test_prune_potential[{c}]" for c in cases]


def test_one_group_on_two_workers_keeps_both_busy() -> None:
    sent = schedule(ids("tiny-resnet8-WT", "tiny-resnet8-FT", "tiny-resnet8-SiPP"), workers=2)
    assert all(sent), sent  # neither worker is left idle
    assert sorted(sum(sent, [])) == ["tiny-resnet8-FT", "tiny-resnet8-SiPP", "tiny-resnet8-WT"]


def test_as_many_groups_as_workers_keeps_each_group_on_one_worker() -> None:
    cases = ids("d-a-WT", "d-a-FT", "d-b-WT", "d-b-FT")
    sent = schedule(cases, workers=2)
    assert sorted(sorted(s) for s in sent) == [["d-a-FT", "d-a-WT"], ["d-b-FT", "d-b-WT"]]
