"""The Pruner registry: registration, lookup errors, entry points, the conftest hook pattern, validation."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest
import torch
from torch import nn

from robustprune.methods import BUILTIN_METHODS, READY_MADE_METHODS
from robustprune.pruning import (
    InvalidMaskError,
    Pruner,
    PrunerRegistry,
    PrunerRegistryError,
    UnknownPrunerError,
    default_registry,
    parameter_count,
    validate_masks,
)
from robustprune.pruning.base import PrunerPluginWarning
from robustprune.pruning.builtin import reset_default_registry


class Keep(Pruner):
    name = "Keep"
    structured = False
    data_informed = False

    def prune(self, model, prune_ratio, sample):
        return {}


def test_default_registry_holds_the_four_methods_sorted():
    names = default_registry().names()
    assert {"WT", "SiPP", "FT", "PFP"} <= set(names)
    assert names == sorted(names)
    assert default_registry().get("PFP").structured and default_registry().get("PFP").data_informed
    assert not default_registry().get("WT").data_informed


def test_duplicate_name_names_both_origins():
    registry = PrunerRegistry()
    registry.register(Keep, origin="first place")

    class OtherKeep(Keep):
        pass

    with pytest.raises(PrunerRegistryError, match="first place") as error:
        registry.register(OtherKeep, origin="second place")
    assert "second place" in str(error.value) and "'Keep'" in str(error.value)


def test_unknown_name_lists_valid_names():
    registry = PrunerRegistry()
    registry.register(Keep, origin="here")
    with pytest.raises(UnknownPrunerError, match="unknown pruner 'Nope'; valid pruners: Keep"):
        registry.get("Nope")


def test_class_without_contract_attributes_is_refused():
    class Broken(Pruner):
        name = "Broken"

    with pytest.raises(PrunerRegistryError, match="structured must be a bool"):
        PrunerRegistry().register(Broken, origin="test")


def _install_plugin_package(tmp_path, monkeypatch) -> None:
    """A throwaway installed distribution declaring one pruner entry point."""
    package = tmp_path / "randprune"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent("""
        import torch
        from robustprune.pruning import Pruner, prunable_weights

        class RandomPruner(Pruner):
            name = "Random"
            structured = False
            data_informed = False

            def prune(self, model, prune_ratio, sample):
                weights = prunable_weights(model)
                total = sum(w.numel() for w in model.parameters())
                scores = torch.rand(sum(w.numel() for w in weights.values()),
                                    generator=torch.Generator().manual_seed(0))
                keep = torch.ones_like(scores, dtype=torch.bool)
                keep[scores.argsort()[: round(prune_ratio * total)]] = False
                masks, start = {}, 0
                for name, w in weights.items():
                    masks[name] = keep[start : start + w.numel()].view(w.shape)
                    start += w.numel()
                return masks
    """)
    )
    dist_info = tmp_path / "randprune-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: randprune\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[robustprune.pruners]\nrandom = randprune:RandomPruner\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_entry_point_pruner_is_found_and_validated(tmp_path, monkeypatch):
    _install_plugin_package(tmp_path, monkeypatch)
    reset_default_registry()
    try:
        registry = default_registry()
        assert "Random" in registry.names()
        assert "entry point 'random'" in registry.origin("Random")
        model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
        masks = registry.create("Random").prune(model, 0.5, [])
        achieved = validate_masks("Random", model, masks, 0.5, parameter_count(model))
        assert achieved == pytest.approx(0.5, abs=0.005)
    finally:
        reset_default_registry()
        sys.modules.pop("randprune", None)


def _install_broken_plugin(tmp_path, monkeypatch) -> None:
    dist_info = tmp_path / "broken-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[robustprune.pruners]\nbad = no_such_module:Thing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_entry_point_that_fails_to_import_is_disabled_with_a_warning(tmp_path, monkeypatch):
    _install_broken_plugin(tmp_path, monkeypatch)
    registry = PrunerRegistry()
    with pytest.warns(PrunerPluginWarning) as caught:
        assert registry.load_entry_points() == []
    [warning] = caught
    assert str(warning.message) == (
        "pruner plugin 'bad' (group robustprune.pruners) is disabled: distribution broken 0.1, "
        "no_such_module:Thing: ModuleNotFoundError: No module named 'no_such_module'"
    )
    assert list(registry.broken()) == ["bad"]
    with pytest.raises(UnknownPrunerError, match="disabled plugin 'bad': distribution broken"):
        registry.get("Bad")


def test_default_registry_keeps_working_with_a_broken_plugin(tmp_path, monkeypatch, capsys):
    from robustprune.cli import main

    _install_broken_plugin(tmp_path, monkeypatch)
    reset_default_registry()
    try:
        in_tree = sorted([*BUILTIN_METHODS, *READY_MADE_METHODS])
        with pytest.warns(PrunerPluginWarning, match="'bad'"):
            assert default_registry().names() == in_tree
        assert main(["list", "pruners"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split()[0] for line in lines[:-1]] == in_tree
        assert lines[-1].startswith("bad (broken: distribution broken 0.1, no_such_module:Thing: ")
    finally:
        reset_default_registry()


def test_invalid_plugin_class_is_disabled_too(tmp_path, monkeypatch):
    (tmp_path / "notapruner.py").write_text("class Thing:\n    name = 'Thing'\n")
    dist_info = tmp_path / "notapruner-2.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: notapruner\nVersion: 2.0\n")
    (dist_info / "entry_points.txt").write_text("[robustprune.pruners]\nthing = notapruner:Thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    registry = PrunerRegistry()
    with pytest.warns(PrunerPluginWarning, match="distribution notapruner 2.0.*structured must"):
        registry.load_entry_points()
    assert "thing" in registry.broken() and len(registry) == 0
    sys.modules.pop("notapruner", None)


def test_conftest_hook_pattern_registers_into_the_default_registry():
    # What a conftest.py's pytest_robustprune_pruners(registry) implementation does.
    registry = default_registry()

    def pytest_robustprune_pruners(registry):
        registry.register(Keep, origin="conftest.py")

    pytest_robustprune_pruners(registry)
    try:
        assert registry.get("Keep") is Keep and registry.origin("Keep") == "conftest.py"
        pytest_robustprune_pruners(registry)  # the same class from the same place again: no error
    finally:
        registry.unregister("Keep")
    assert "Keep" not in registry


class BadShape(Pruner):
    name = "BadShape"
    structured = False
    data_informed = False

    def prune(self, model, prune_ratio, sample):
        return {"0.weight": torch.ones(3, 3, dtype=torch.bool)}


def test_pruner_returning_a_bad_mask_fails_with_named_error():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    masks = BadShape().prune(model, 0.0, [])
    with pytest.raises(InvalidMaskError, match=r"pruner 'BadShape'.*shape \(3, 3\).*\(8, 4\)"):
        validate_masks("BadShape", model, masks, 0.0, parameter_count(model))
