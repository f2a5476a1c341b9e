"""Work shared by the methods of one architecture: each is computed once per parent.

The parents' evaluations, the parents' outputs under the similarity noise and the similarity
of the separately trained parent do not depend on the method, so a second method of the same
architecture reads or reuses them instead of computing them again.
"""

from __future__ import annotations

import pytest
from tiny import RandomPruner, RecordingStore

from robustprune.harness import CaseRunner
from robustprune.pruning import (
    PrunerRegistry,
    default_registry,
)
from robustprune.recipes import Recipe, list_recipes, register_recipe
from robustprune.suite import Case, load_suite

pytestmark = pytest.mark.slow  # trains parents and curves through the harness

if "sharing-test-train" not in list_recipes():
    register_recipe(
        Recipe("sharing-test-train", 1, 128, 0.1, 5e-4), origin="tests/test_harness_sharing.py"
    )

SUITE = """
name = "sharing"
dataset = "digits"
archs = ["resnet8"]
methods = ["WT", "Random"]
seeds = 2
train_recipe = "sharing-test-train"
retrain_recipe = "sharing-test-train"
shifts = ["noise:uniform:0.3"]
similarity = true
similarity_draws = 1

[grid]
ratios = [0.3, 0.6]
"""


def test_a_second_method_recomputes_only_what_depends_on_its_networks(tmp_path):
    registry = PrunerRegistry()
    registry.register(default_registry().get("WT"), origin="robustprune")
    registry.register(RandomPruner, origin="tests/test_harness_sharing.py")
    suite_file = tmp_path / "sharing.toml"
    suite_file.write_text(SUITE)
    suite = load_suite(suite_file)
    store = RecordingStore(tmp_path / "cache")
    runner = CaseRunner(suite, store, "cpu", registry=registry)
    first = runner.run(Case(suite, "resnet8", "WT", smoke=False))
    parents = [runner.parent("resnet8", seed).key for seed in suite.seeds]
    store.requests.clear()
    second = runner.run(Case(suite, "resnet8", "Random", smoke=False))

    # 2 seeds x 2 pruned nets; the parents' evaluations are not even read again
    evaluations = [computed for kind, _, computed in store.requests if kind == "evaluation"]
    assert evaluations == [True] * 4
    # per seed: the 2 pruned nets computed, the separately trained parent's similarity read
    similarity = [computed for kind, _, computed in store.requests if kind == "similarity"]
    assert sorted(similarity) == [False, False, True, True, True, True]
    assert [runner.parent("resnet8", seed).key for seed in suite.seeds] == parents
    for before, after in zip(first.seeds, second.seeds, strict=True):
        assert after.similarity["reference"] == before.similarity["reference"]
        assert after.similarity["agreement"] != before.similarity["agreement"]
        assert after.parent_eval is before.parent_eval
