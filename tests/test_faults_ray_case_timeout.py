"""A case that runs past ``--rp-case-timeout`` under ``--rp-ray`` cancels its own tasks.

Finding: the case failed on time but its curve kept running on the cluster, holding a slot the
other cases needed until the run ended. The deadline fires (SIGALRM) while the case's test waits
for a unit; the driver then cancels the unfinished curves and evaluation of that case only: a
parent is shared with the architecture's other methods, and finished units have nothing to stop.
"""

from __future__ import annotations

import sys
import threading
import types
from types import SimpleNamespace

import pytest

from robustprune.plugin.faults import CaseTimeoutError
from robustprune.plugin.ray_run import RayRun
from robustprune.ray_tasks import Unit


def test_a_timed_out_case_cancels_only_its_own_unfinished_tasks(monkeypatch) -> None:
    cancelled = []
    fake_ray = types.ModuleType("ray")
    fake_ray.cancel = lambda ref, force=False: cancelled.append((ref, force))
    monkeypatch.setitem(sys.modules, "ray", fake_ray)

    run = RayRun(config=SimpleNamespace(), options=SimpleNamespace())
    parent = Unit("parent", "resnet20", seed=0)
    finished_curve = Unit("curve", "resnet20", "Hang", 0)
    running_curve = Unit("curve", "resnet20", "Hang", 1)
    case_unit = Unit("case", "resnet20", "Hang")
    other_curve = Unit("curve", "resnet20", "WT", 0)
    other_case = Unit("case", "resnet20", "WT")
    for unit in (parent, finished_curve, running_curve, case_unit, other_curve, other_case):
        run.refs[unit] = f"ref {unit.label}"
        run.events[unit] = threading.Event()
    run.events[parent].set()
    run.events[finished_curve].set()  # finished before the deadline

    def deadline_passes() -> None:
        raise CaseTimeoutError("resnet20/Hang ran longer than --rp-case-timeout 5 s")

    monkeypatch.setattr(run, "echo_finished", deadline_passes)
    case = SimpleNamespace(arch="resnet20", method="Hang")
    with pytest.raises(CaseTimeoutError):
        run.wait(running_curve, case)
    assert cancelled == [("ref curve resnet20/Hang seed 1", True), ("ref case resnet20/Hang", True)]
