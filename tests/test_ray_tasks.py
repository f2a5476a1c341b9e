"""The units a ``--rp-ray`` run cuts its cases into: their plan and the labels users read."""

from __future__ import annotations

from types import SimpleNamespace

from robustprune.ray_tasks import Unit, unit_plan


def test_unit_labels_name_what_the_unit_builds() -> None:
    assert Unit("shifts").label == "shifts"
    assert Unit("parent", "tinynet", seed=0).label == "parent tinynet seed 0"
    assert Unit("parent_eval", "tinynet", seed=1).label == "parent_eval tinynet seed 1"
    assert Unit("curve", "tinynet", "Boom", 0).label == "curve tinynet/Boom seed 0"
    assert Unit("case", "tinynet", "Boom").label == "case tinynet/Boom"


def test_the_plan_holds_each_unit_once_after_the_units_it_depends_on() -> None:
    cases = [SimpleNamespace(arch="a", method=m) for m in ("WT", "FT")]
    plan = unit_plan(cases, seeds=(0, 1))
    order = list(plan)
    for unit, needs in plan.items():
        assert all(order.index(need) < order.index(unit) for need in needs)
    parents = [Unit("parent", "a", seed=s) for s in (0, 1)]
    assert sum(unit.kind == "parent" for unit in plan) == 2  # shared by both methods
    assert plan[Unit("curve", "a", "FT", 1)] == (parents[1],)
    assert plan[Unit("case", "a", "FT")] == (
        Unit("shifts"),
        *parents,
        *(Unit("parent_eval", "a", seed=s) for s in (0, 1)),
        *(Unit("curve", "a", "FT", s) for s in (0, 1)),
    )
    assert unit_plan([], seeds=(0,)) == {}
