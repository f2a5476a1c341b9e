"""Keep the cases of one parent population on one xdist worker.

pytest-xdist's ``--dist loadgroup`` groups tests by suffixing their node ids with the
``xdist_group`` name; since pytest 9 computes node ids itself, that suffix no longer sticks and
loadgroup degrades to plain ``load``. This scheduler groups by the case id instead:
``test_prune_potential[digits-resnet20-WT]`` belongs to group ``digits-resnet20``, so the
worker that trains resnet20's parents also runs every method on them.

With fewer groups than workers (``-n 2`` on a one-architecture suite) whole groups would leave
a worker idle, so the cases are then scheduled one by one: the first to ask for a parent trains
it, the others wait on its lock in the artifact store and load it, then run their own methods
in parallel. Every artifact is built from its key alone with a fixed thread count, so where a
case runs never changes its numbers.

A worker that dies (OOM kill, segfault, ``os._exit`` in a pruner) fails the case it was running
and nothing else: xdist reports that case as crashed, and this scheduler puts only the rest of
the worker's cases back in the queue. xdist's LoadScopeScheduling re-queues the crashed case as
well, so a case that always crashes takes down every replacement worker until "maximum crashed
workers reached" ends the run with the healthy cases unrun (pytest-xdist PR #1371).
"""

from __future__ import annotations

from typing import Any

from robustprune.suite import case_group_of


def case_group(nodeid: str) -> str:
    """``...::test_prune_potential[digits-resnet20-WT]`` -> ``digits-resnet20``
    (``robustprune.suite.case_group_of``); else the node id."""
    if "@" in nodeid:  # an xdist_group suffix, should a future pytest keep it again
        return nodeid.rsplit("@", 1)[-1]
    if nodeid.endswith("]") and "[" in nodeid:
        group = case_group_of(nodeid[nodeid.index("[") + 1 : -1])
        if group is not None:
            return group
    return nodeid


def split_by_case(nodeids: list[str], workers: int) -> bool:
    """True when the cases form fewer groups than there are workers (then schedule per case)."""
    return len({case_group(nodeid) for nodeid in nodeids}) < workers


def make_case_group_scheduler(config: Any, log: Any) -> Any:
    """An xdist scheduler that sends each case group to one worker, whole, unless there are
    fewer groups than workers; then each case is a unit of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class CaseGroupScheduling(LoadScopeScheduling):
        per_case: bool | None = None

        def schedule(self) -> None:
            if self.per_case is None and self.collection is None and self.registered_collections:
                nodeids = list(next(iter(self.registered_collections.values())))
                self.per_case = split_by_case(nodeids, len(self.nodes))
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return nodeid if self.per_case else case_group(nodeid)

        def remove_node(self, node: Any) -> str | None:
            """Forget ``node``; re-queue its unfinished cases except the one it crashed on.

            Returns that case's node id (xdist reports it as failed), or None when the node
            had nothing left to run.
            """
            workload = self.assigned_work.pop(node)
            crashed = next(
                (nodeid for unit in workload.values() for nodeid, done in unit.items() if not done),
                None,
            )
            if crashed is None:
                return None
            for unit in workload.values():
                if crashed in unit:
                    unit[crashed] = True  # failed by xdist's crash report; never run again
            self.workqueue.update(
                (scope, unit) for scope, unit in workload.items() if not all(unit.values())
            )
            for other in self.assigned_work:
                self._reschedule(other)
            return crashed

    return CaseGroupScheduling(config, log)
