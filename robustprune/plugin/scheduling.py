"""Keep the cases of one parent population on one xdist worker.

pytest-xdist's ``--dist loadgroup`` groups tests by suffixing their node ids with the
``xdist_group`` name; since pytest 9 computes node ids itself, that suffix no longer sticks and
loadgroup degrades to plain ``load``. This scheduler groups by the case id instead:
``test_prune_potential[digits-resnet20-WT]`` belongs to group ``digits-resnet20``, so the
worker that trains resnet20's parents also runs every method on them.
"""

from __future__ import annotations

from typing import Any


def case_group(nodeid: str) -> str:
    """``...::test_prune_potential[digits-resnet20-WT]`` -> ``digits-resnet20``; else the node id.

    Case ids are ``<suite>-<arch>-<method>``; the group is everything before the last dash.
    """
    if "@" in nodeid:  # an xdist_group suffix, should a future pytest keep it again
        return nodeid.rsplit("@", 1)[-1]
    if nodeid.endswith("]") and "[" in nodeid:
        case_id = nodeid[nodeid.index("[") + 1 : -1]
        if case_id.count("-") >= 2:
            return case_id.rsplit("-", 1)[0]
    return nodeid


def make_case_group_scheduler(config: Any, log: Any) -> Any:
    """An xdist scheduler that sends each case group to one worker, whole."""
    from xdist.scheduler import LoadScopeScheduling

    class CaseGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return case_group(nodeid)

    return CaseGroupScheduling(config, log)
