"""Cache keys know the code that computed an artifact, and the machine class it ran on.

Editing a plugin pruner recomputes exactly its prune steps (and the evaluations of the networks
they produce) and nothing else; an unchanged rerun loads everything; a built-in method's key
changes when its source does; a comment or docstring edit changes nothing.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import weakref
from pathlib import Path

import pytest
import torch
from tiny import RecordingStore, tiny_data
from torch import nn

from robustprune import identity, machine
from robustprune.cache import ArtifactStore, model_fingerprint
from robustprune.harness import CaseRunner
from robustprune.pipeline import prune_curve
from robustprune.pruning import PrunerRegistry, default_registry
from robustprune.recipes import Recipe, list_recipes, register_recipe
from robustprune.suite import Case, load_suite

pytestmark = pytest.mark.slow  # trains and prunes through the harness, several times

if "keys-test-train" not in list_recipes():
    register_recipe(Recipe("keys-test-train", 1, 128, 0.1, 5e-4), origin="tests/test_cache_keys.py")
    register_recipe(
        Recipe("keys-test-retrain", 1, 128, 0.05, 5e-4), origin="tests/test_cache_keys.py"
    )

SUITE = """
name = "keys"
dataset = "digits"
archs = ["resnet8"]
methods = ["WT", "Edited"]
seeds = 1
train_recipe = "keys-test-train"
retrain_recipe = "keys-test-retrain"
shifts = ["noise:uniform:0.3"]

[grid]
ratios = [0.3, 0.6]
"""

PLUGIN = '''
import torch
from robustprune.pruning import Pruner, parameter_count, prunable_weights

SEED = 0


class EditedPruner(Pruner):
    """Random weights from a fixed generator; already-zero weights go first (nested steps)."""

    name = "Edited"
    structured = False
    data_informed = False

    def prune(self, model, prune_ratio, sample):
        weights = prunable_weights(model)
        flat = torch.cat([w.detach().flatten() for w in weights.values()])
        scores = torch.rand(flat.numel(), generator=torch.Generator().manual_seed(SEED))
        scores = scores + (flat != 0)
        keep = torch.ones_like(flat, dtype=torch.bool)
        keep[scores.argsort()[: round(prune_ratio * parameter_count(model))]] = False
        masks, start = {}, 0
        for name, weight in weights.items():
            masks[name] = keep[start : start + weight.numel()].view(weight.shape)
            start += weight.numel()
        return masks
'''


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``write(source)`` puts a pruner module on the path and (re)imports it afresh."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # an edit must never meet a stale .pyc
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def write(source: str):
        (site / "keys_plugin.py").write_text(source)
        sys.modules.pop("keys_plugin", None)
        importlib.invalidate_caches()
        return importlib.import_module("keys_plugin")

    yield write
    sys.modules.pop("keys_plugin", None)


def run_suite(suite_file: Path, store: RecordingStore, module) -> tuple[CaseRunner, dict]:
    """Both cases of the suite through a fresh CaseRunner (as a new process would)."""
    registry = PrunerRegistry()
    registry.register(default_registry().get("WT"), origin="robustprune")
    registry.register(module.EditedPruner, origin="tests keys_plugin")
    suite = load_suite(suite_file)
    runner = CaseRunner(suite, store, "cpu", registry=registry)
    results = {}
    for method in ("WT", "Edited"):
        results[method] = runner.run(Case(suite, "resnet8", method, smoke=False))
    return runner, results


def test_editing_a_plugin_pruner_recomputes_exactly_its_artifacts(tmp_path, plugin_module):
    suite_file = tmp_path / "keys.toml"
    suite_file.write_text(SUITE)
    store = RecordingStore(tmp_path / "cache")
    _, first = run_suite(suite_file, store, plugin_module(PLUGIN))
    assert [fields["pruner"] for kind, fields in store.computed() if kind == "prune_step"] == [
        "WT", "WT", "Edited", "Edited"
    ]  # fmt: skip

    # unchanged code, or only a comment and a docstring changed: everything loads
    for source in (PLUGIN, PLUGIN.replace('"""Random weights', '"""Random (edited docs) weights')):
        store.requests.clear()
        _, again = run_suite(suite_file, store, plugin_module(source + "\n# a comment\n"))
        assert store.computed() == []
        assert again["Edited"].seeds[0].origins == {"parent": "loaded", "curve": "loaded"}

    # another generator seed: the plugin's two steps and their evaluations, nothing else
    store.requests.clear()
    runner, edited = run_suite(
        suite_file, store, plugin_module(PLUGIN.replace("SEED = 0", "SEED = 1"))
    )
    computed = store.computed()
    steps = [fields for kind, fields in computed if kind == "prune_step"]
    assert [step["pruner"] for step in steps] == ["Edited", "Edited"]
    assert {kind for kind, _ in computed} <= {"prune_step", "evaluation", "cost"}
    assert edited["Edited"].seeds[0].origins == {"parent": "loaded", "curve": "computed"}
    assert edited["WT"].seeds[0].origins == {"parent": "loaded", "curve": "loaded"}
    # evaluations computed: only of the networks the edited pruner produced
    new_models = {model_fingerprint(p.model) for p in runner.curve("resnet8", "Edited", 0).points}
    evaluated = {fields["model"] for kind, fields in computed if kind == "evaluation"}
    assert evaluated and evaluated <= new_models
    assert accuracies(first["WT"]) == accuracies(edited["WT"])
    assert accuracies(first["Edited"]) != accuracies(edited["Edited"])

    # the plugin's provenance is in the record's environment
    [entry] = edited["Edited"].environment["plugins"]
    assert (entry["kind"], entry["name"], entry["module"]) == ("pruner", "Edited", "keys_plugin")
    assert entry["distribution"] is None and entry["source"]
    assert edited["Edited"].environment["machine_class"] == machine.machine_class("cpu")


def accuracies(result) -> list[float]:
    return [
        measurement.accuracy for point in result.seeds[0].points
        for measurement in point.evaluation.values()
    ]  # fmt: skip


def tiny_parent() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 4)
    )


NO_TRAINING = Recipe("no-training", epochs=0, batch_size=32, lr=0.05, weight_decay=0.0)


def step_computed(store: ArtifactStore, method: str) -> bool:
    [point] = prune_curve(
        tiny_parent(), tiny_data(), method, [0.5], NO_TRAINING, 0, "cpu", store,
        parent_key="p", sample_size=8,
    )  # fmt: skip
    return point.computed


@pytest.mark.parametrize("method", ["WT", "SiPP", "FT", "PFP"])
def test_a_built_in_method_whose_source_changes_gets_a_new_key(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails when a built-in method's code can change without its prune steps' key changing."""
    store = ArtifactStore(tmp_path)
    assert step_computed(store, method) and not step_computed(store, method)
    cls = default_registry().get(method)
    edited_file = inspect.getsourcefile(cls)
    original = identity.read_source

    def edited(path):
        text = original(path)
        return text + "EDITED" if str(path) == edited_file else text

    monkeypatch.setattr(identity, "read_source", edited)
    monkeypatch.setattr(identity, "_IDENTITIES", weakref.WeakKeyDictionary())
    assert step_computed(store, method), f"{method}: source edited, prune step loaded"


def test_a_built_in_identity_covers_its_imports_of_its_sub_package_only(monkeypatch) -> None:
    wt, pfp = (default_registry().get(name) for name in ("WT", "PFP"))
    before = {cls: identity.code_identity(cls) for cls in (wt, pfp)}
    original = identity.read_source
    pfp_file = inspect.getsourcefile(pfp)
    budget_file = str(Path(pfp_file).parent / "budget.py")

    def edit(target: str):
        def read(path):
            return original(path) + ("EDITED" if str(path) == target else "")

        monkeypatch.setattr(identity, "read_source", read)
        monkeypatch.setattr(identity, "_IDENTITIES", weakref.WeakKeyDictionary())
        return {cls: identity.code_identity(cls) for cls in (wt, pfp)}

    after = edit(pfp_file)  # PFP's own module: WT is not affected
    assert after[pfp] != before[pfp] and after[wt] == before[wt]
    after = edit(budget_file)  # shared machinery WT imports
    assert after[wt] != before[wt]


def test_plugin_identity_names_distribution_version_and_declared_version(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    site = tmp_path / "site"
    (site / "keysdist").mkdir(parents=True)
    (site / "keysdist" / "__init__.py").write_text(PLUGIN)
    dist_info = site / "keysdist-1.2.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: keysdist\nVersion: 1.2\n")
    (dist_info / "entry_points.txt").write_text(
        "[robustprune.pruners]\nedited = keysdist:EditedPruner\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    try:
        module = importlib.import_module("keysdist")
        found = identity.code_identity(module.EditedPruner)
        assert (found["distribution"], found["version"]) == ("keysdist", "1.2")
        assert found["module"] == "keysdist" and "declared_version" not in found

        class Versioned(module.EditedPruner):
            version = 3

        assert identity.code_identity(Versioned)["declared_version"] == 3
        assert identity.provenance("pruner", "Edited", module.EditedPruner) == {
            "kind": "pruner", "name": "Edited", "module": "keysdist", "distribution": "keysdist",
            "version": "1.2", "source": found["source"],
        }  # fmt: skip
        assert identity.provenance("pruner", "WT", default_registry().get("WT")) is None
    finally:
        sys.modules.pop("keysdist", None)


def test_a_declared_version_changes_the_key(tmp_path, plugin_module) -> None:
    store = ArtifactStore(tmp_path)
    module = plugin_module(PLUGIN)

    def computed(cls) -> bool:
        [point] = prune_curve(
            tiny_parent(), tiny_data(), cls(), [0.5], NO_TRAINING, 0, "cpu", store,
            parent_key="p", sample_size=8,
        )  # fmt: skip
        return point.computed

    assert computed(module.EditedPruner) and not computed(module.EditedPruner)
    bumped = type("EditedPruner", (module.EditedPruner,), {"version": 2})
    bumped.__module__ = "keys_plugin"
    assert computed(bumped)


def test_machine_class_is_part_of_parent_and_step_keys(tmp_path, monkeypatch) -> None:
    store = ArtifactStore(tmp_path)
    assert step_computed(store, "WT") and not step_computed(store, "WT")
    monkeypatch.setattr(
        machine, "_cpu_facts", lambda: ("OtherVendor", "avx512")
    )  # another CPU family: the step is computed again, not served across classes
    assert step_computed(store, "WT") and not step_computed(store, "WT")
    # an explicit shared label: one key for every machine that declares it
    monkeypatch.setenv(machine.ENVIRONMENT_VARIABLE, "lab-pool")
    assert step_computed(store, "WT")
    monkeypatch.setattr(machine, "_cpu_facts", lambda: ("GenuineIntel", "avx2"))
    assert not step_computed(store, "WT")
    declared = machine.machine_class("cpu")
    assert declared["label"] == "lab-pool" and declared["detected"].startswith("cpu avx2")


def test_a_bad_machine_class_label_is_named(monkeypatch) -> None:
    monkeypatch.setenv(machine.ENVIRONMENT_VARIABLE, "a\nb")
    with pytest.raises(ValueError, match="ROBUSTPRUNE_MACHINE_CLASS='a\\\\nb': a machine class"):
        machine.machine_key("cpu")


def test_data_digests_follow_what_the_loader_returned() -> None:
    from robustprune.data.imagenet import FolderImageSet

    data, changed = tiny_data(), tiny_data()
    assert identity.data_digest(data) == identity.data_digest(changed)
    changed.test.images[0, 0, 0, 0] += 0.5
    identity._IMAGE_DIGESTS.clear()  # digests are memoized per set object; this one was edited
    assert identity.data_digest(data) != identity.data_digest(changed)
    files = [FolderImageSet(names, [0, 1]) for names in (["a.jpg", "b.jpg"], ["a.jpg", "c.jpg"])]
    assert identity.images_digest(files[0]) != identity.images_digest(files[1])


def test_a_conftest_pruners_identity_does_not_depend_on_which_conftest_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several conftest.py files are all modules named "conftest"; a pruner's key must follow
    the file its class was defined in, whichever of them sys.modules holds (a Ray rerun
    recomputed finished steps before this held)."""
    import importlib.util
    import sys

    from robustprune import identity

    def load(folder: str, body: str):
        path = tmp_path / folder / "conftest.py"
        path.parent.mkdir()
        path.write_text(f"class Mine:\n    def prune(self):\n        return {body}\n")
        spec = importlib.util.spec_from_file_location("conftest", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    first, other = load("a", "1"), load("b", "2")
    monkeypatch.setitem(sys.modules, "conftest", first)
    expected = dict(identity.code_identity(first.Mine))
    for cls in (first.Mine,):
        identity._IDENTITIES.pop(cls, None)
        delattr(cls, identity._SHIPPED_IDENTITY)
    monkeypatch.setitem(sys.modules, "conftest", other)
    assert identity.code_identity(first.Mine) == expected
    assert identity.code_identity(other.Mine)["source"] != expected["source"]
