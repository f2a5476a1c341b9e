"""Models, datasets, shifts and recipes as plugins: entry points, the conftest hooks, listing.

The worked example of docs/plugin.md ("Your own dataset, model, shift and recipe") is
installed as a throwaway distribution (a package plus a ``.dist-info`` directory on the path)
built from the code blocks of that section, and run through the real harness.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tiny import reproducible_records

import robustprune.data.shifts  # noqa: F401  (import torch once, before pytester restores modules)
import robustprune.models  # noqa: F401
from robustprune.cli import main
from robustprune.extensions import HOMES, PluginWarning, load_extensions
from robustprune.plugin.registries import EXTENSION_KINDS as KINDS

pytestmark = pytest.mark.slow  # the worked example through the real harness

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "plugin.md"


def doc_block(first_line: str, doc: Path = DOC) -> str:
    """The fenced code block of ``doc`` (docs/plugin.md) whose first line is ``first_line``."""
    for block in re.findall(r"```\w*\n(.*?)```", doc.read_text(), flags=re.DOTALL):
        if block.startswith(first_line + "\n"):
            return block
    raise AssertionError(f"{doc.name} has no code block starting {first_line!r}")


def entry_points_txt(pyproject: str) -> str:
    """The ``entry_points.txt`` a build of ``pyproject`` would write."""
    groups = tomllib.loads(pyproject)["project"]["entry-points"]
    return "".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in groups.items()
    )


def install_dist(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    """A throwaway installed distribution: modules plus ``<name>-0.1.dist-info`` in ``site``."""
    for module, text in modules.items():
        (site / module).parent.mkdir(parents=True, exist_ok=True)
        (site / module).write_text(text)
    dist_info = site / f"{name}-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(entry_points)


def install_worked_example(site: Path) -> None:
    install_dist(
        site,
        "mydigits",
        entry_points_txt(doc_block("# mydigits/pyproject.toml")),
        {"mydigits/__init__.py": doc_block("# mydigits/mydigits/__init__.py")},
    )


def write_data(root: Path) -> Path:
    """``mydigits.npz``: the embedded digits as uint8 grayscale images."""
    from robustprune.data.digits import bundled_digits

    pixels, labels = bundled_digits()
    images = (pixels.reshape(-1, 8, 8) * 15).astype(np.uint8)
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "mydigits.npz", images=images, labels=labels)
    return root


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A site directory on sys.path; every registry forgets its plugins for the test and holds
    afterwards what it held before (names other test modules registered included)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = {kind: load_extensions(kind).snapshot() for kind in KINDS}
    for kind in KINDS:
        load_extensions(kind).reset()
    importlib.invalidate_caches()
    yield site
    for kind in KINDS:
        load_extensions(kind).restore(before[kind])
    for module in ("mydigits", "badplugins"):
        sys.modules.pop(module, None)


def test_worked_example_entry_points_register_every_kind(fresh_plugins: Path, tmp_path) -> None:
    from robustprune.data import load_dataset
    from robustprune.data.shifts import get_shift
    from robustprune.data.shifts.registry import dataset_shift_entry
    from robustprune.models import create, list_models
    from robustprune.recipes import get_recipe

    install_worked_example(fresh_plugins)
    data = load_dataset("mydigits", write_data(tmp_path / "data"))
    assert (data.num_classes, data.in_channels, data.input_size) == (10, 1, (8, 8))
    model = create("tinynet", data.num_classes, data.in_channels, data.input_size)
    assert model(data.test.batch(range(4), "cpu")[0]).shape == (4, 10)
    assert "tinynet" in list_models("tiny*")
    assert get_shift("inverted").kind == "dataset"
    shifted = dataset_shift_entry("inverted").loader(data, None)
    assert int(shifted.images[0].max()) + int(data.test.images[0].min()) == 255
    assert get_recipe("quick").epochs == 8 and get_recipe("quick_retrain").name == "quick_retrain"
    assert load_extensions("models").origin("tinynet") == (
        "entry point 'tinynet' (mydigits:tinynet) in robustprune.models"
    )


def test_cli_lists_plugins_of_every_kind(fresh_plugins: Path, capsys) -> None:
    install_worked_example(fresh_plugins)
    for kind, name in [
        ("models", "tinynet"),
        ("datasets", "mydigits"),
        ("shifts", "inverted"),
        ("recipes", "quick"),
    ]:
        assert main(["list", kind]) == 0
        assert name in capsys.readouterr().out.splitlines(), kind


BROKEN = {
    "models": "no_such_module:tinynet",
    "datasets": "badplugins:not_there",
    "shifts": "badplugins:NUMBER",
    "recipes": "badplugins:NUMBER",
}
"""Per kind, an entry point that fails: a missing module, a missing attribute, a wrong object."""


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_entry_point_is_disabled_with_a_warning(
    kind: str, fresh_plugins: Path, capsys
) -> None:
    install_dist(
        fresh_plugins,
        "badplugins",
        f"[robustprune.{kind}]\nbad = {BROKEN[kind]}\n",
        {"badplugins.py": "NUMBER = 3\n"},
    )
    package, _, path = HOMES[kind].partition(":")
    module, _, attribute = f"{package}.{path}".rpartition(".")
    registry = getattr(importlib.import_module(module), attribute)  # entry points not loaded yet
    builtins = None
    with pytest.warns(PluginWarning) as caught:
        builtins = registry.listing()
    [warning] = caught
    message = str(warning.message)
    singular = kind.rstrip("s")
    assert message.startswith(
        f"{singular} plugin 'bad' (group robustprune.{kind}) is disabled: "
        f"distribution badplugins 0.1, {BROKEN[kind]}: "
    )
    error = {"models": "ModuleNotFoundError", "datasets": "AttributeError"}.get(kind, "TypeError")
    assert error in message
    assert builtins and "bad" not in builtins  # the built-ins are still there
    assert list(registry.broken()) == ["bad"]
    assert main(["list", kind]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:-1] == builtins
    assert lines[-1].startswith("bad (broken: distribution badplugins 0.1, ")


@pytest.mark.parametrize(
    ("kind", "taken", "value"),
    [
        ("models", "resnet20", "mydigits:tinynet"),
        ("datasets", "digits", "mydigits:load"),
        ("shifts", "cifar10_1", "mydigits:inverted"),
        ("recipes", "digits", "mydigits:QUICK"),
    ],
)
def test_entry_point_taking_a_builtin_name_names_both_origins(
    kind: str, taken: str, value: str, fresh_plugins: Path
) -> None:
    install_worked_example(fresh_plugins)
    shutil.rmtree(fresh_plugins / "mydigits-0.1.dist-info")
    install_dist(fresh_plugins, "mydigits", f"[robustprune.{kind}]\n{taken} = {value}\n", {})
    with pytest.warns(PluginWarning) as caught:
        load_extensions(kind).names()
    message = str(caught[0].message)
    assert f"entry point {taken!r} ({value}) in robustprune.{kind}" in message
    assert "already registered by robustprune (robustprune." in message


def test_hook_registration_of_a_taken_name_names_both_origins(fresh_plugins: Path) -> None:
    install_worked_example(fresh_plugins)
    from mydigits import QUICK, tinynet

    models, recipes = load_extensions("models"), load_extensions("recipes")
    origin = models.origin("tinynet")
    models.register("tinynet", tinynet, origin)  # the same object again: no-op
    assert models.origin("tinynet") == origin
    with pytest.raises(ValueError) as error:
        models.register("tinynet", tinynet, origin="conftest.py")
    assert "entry point 'tinynet' (mydigits:tinynet)" in str(error.value)
    assert "conftest.py" in str(error.value)
    with pytest.raises(TypeError, match="recipe 'x' must be a robustprune.recipes.Recipe, got 3"):
        recipes.register("x", 3, origin="conftest.py")
    recipes.register("quick2", QUICK, origin="conftest.py")
    from robustprune.recipes import get_recipe

    assert get_recipe("quick2").epochs == QUICK.epochs


HOOK_CONFTEST = """
from mydigits import QUICK, inverted, load, tinynet


def pytest_robustprune_models(registry):
    registry.register("hooknet", tinynet, origin="conftest.py")


def pytest_robustprune_datasets(registry):
    registry.register("hookdata", load, origin="conftest.py")


def pytest_robustprune_shifts(registry):
    registry.register("hookshift", inverted, origin="conftest.py")


def pytest_robustprune_recipes(registry):
    registry.register("hookrecipe", QUICK, origin="conftest.py")
"""

HOOK_SUITE = """
name = "hooked"
dataset = "hookdata"
archs = ["hooknet"]
methods = ["WT", "FT"]
seeds = 1
train_recipe = "hookrecipe"
retrain_recipe = "hookrecipe"
shifts = ["hookshift"]

[grid]
ratios = [0.3, 0.6]
"""


def copy_benchmarks(pytester: pytest.Pytester) -> None:
    shutil.copytree(
        REPO / "benchmarks",
        pytester.path / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "bench_*.py", "baselines"),
    )


def test_conftest_hooks_register_every_kind_for_the_suite(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the package, no entry points: the conftest hooks are the only route here.
    site = tmp_path / "site"
    (site / "mydigits").mkdir(parents=True)
    (site / "mydigits" / "__init__.py").write_text(doc_block("# mydigits/mydigits/__init__.py"))
    monkeypatch.setenv("PYTHONPATH", str(site))
    copy_benchmarks(pytester)
    pytester.makeconftest(HOOK_CONFTEST)
    (pytester.path / "hooked.toml").write_text(HOOK_SUITE)
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "hooked.toml", "--co", "-q", "-p", "no:cacheprovider",
        "--rp-cache", str(tmp_path / "cache"),
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        ["*hooked-hooknet-WT*", "*hooked-hooknet-FT*", "2 tests collected*"]
    )


@pytest.fixture
def worked_example(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """docs/plugin.md's package installed on PYTHONPATH, benchmarks/ copied; the data root."""
    site = tmp_path / "site"
    install_worked_example(site)
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    copy_benchmarks(pytester)
    return write_data(tmp_path / "data")


def test_worked_example_runs_through_the_real_harness(
    pytester: pytest.Pytester, tmp_path: Path, worked_example: Path
) -> None:
    """docs/plugin.md's package and suite, under xdist: every worker sees the plugins."""
    (pytester.path / "mydigits.toml").write_text(doc_block("# mydigits/mydigits.toml"))
    data = worked_example
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "mydigits.toml", "--rp-data", str(data), "-n", "2",
        "--rp-cache", str(tmp_path / "cache"), "--rp-leaderboard", str(tmp_path / "out"),
        "-p", "no:cacheprovider", "-q",
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, output
    result.assert_outcomes(passed=1)
    # -q: one line per case with its time, no training progress
    result.stdout.fnmatch_lines(
        ["[[]robustprune[]] 1/1 mydigits-tinynet-WT passed in *; elapsed *"]
    )
    assert "training parent" not in output and "epoch" not in output
    [record] = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["records"]
    assert (record["dataset"], record["arch"], record["method"]) == ("mydigits", "tinynet", "WT")
    assert record["shift_sources"]["inverted"] == "loaded"  # the plugin's shifted test set
    # the record names each plugin it ran, with its distribution and version
    plugins = {(p["kind"], p["name"]): (p["distribution"], p["version"])
               for p in record["environment"]["plugins"]}  # fmt: skip
    assert plugins == {
        ("model", "tinynet"): ("mydigits", "0.1"),
        ("dataset", "mydigits"): ("mydigits", "0.1"),
        ("shift", "inverted"): ("mydigits", "0.1"),
    }
    assert "inverted" in record["distributions"]
    assert "mydigits" in output and "tinynet" in output


def test_one_group_on_two_workers_uses_both_and_matches_the_serial_run(
    pytester: pytest.Pytester, tmp_path: Path, worked_example: Path
) -> None:
    """Two methods of one architecture, cold, -n 2 vs -n 0: both workers work, same numbers.

    The second method is SiPP, not a filter method: tinynet's filters are 3-6 % of its
    parameters each, too coarse for FT to land within 0.5 points of the grid's ratios."""
    suite = doc_block("# mydigits/mydigits.toml").replace(
        'methods = ["WT"]', 'methods = ["WT", "SiPP"]'
    )
    (pytester.path / "two.toml").write_text(suite)
    data = worked_example
    outputs = {}
    for workers in ("2", "0"):
        result = pytester.runpytest_subprocess(
            "benchmarks/", "--rp-suite", "two.toml", "--rp-data", str(data), "-n", workers,
            "--rp-cache", str(tmp_path / f"cache{workers}"),
            "--rp-leaderboard", str(tmp_path / f"out{workers}"), "-p", "no:cacheprovider",
        )  # fmt: skip
        outputs[workers] = result.stdout.str()
        assert result.ret == 0, outputs[workers] + result.stderr.str()
    assert "[gw0]" in outputs["2"] and "[gw1]" in outputs["2"]  # neither worker sat idle
    assert reproducible_records(tmp_path / "out2" / "leaderboard.json") == reproducible_records(
        tmp_path / "out0" / "leaderboard.json"
    )


def test_a_corruption_plugin_is_usable_as_corruption_name_severity(fresh_plugins: Path) -> None:
    import torch

    from robustprune.data.shifts import Corruption, corrupt, get_shift

    def darken(x, parameter, context):
        return x * parameter

    shifts = load_extensions("shifts")
    spec = Corruption("ignored", "mine", (0.9, 0.8, 0.7, 0.6, 0.5), darken, (1,))
    assert shifts.register("darken", spec, origin="conftest.py").name == "darken"
    assert get_shift("corruption:darken:3").corruption == "darken"
    assert "darken" in shifts.names() and "corruption:darken:5" in shifts.listing()
    out = corrupt(torch.ones(2, 1, 8, 8), "darken", 3)
    assert torch.allclose(out, torch.full_like(out, 0.7))
    with pytest.raises(ValueError, match="'darken' from conftest.py is already registered by"):
        shifts.register(
            "darken", Corruption("x", "mine", spec.parameters, abs), origin="conftest.py"
        )


def test_a_reset_registry_restored_from_a_snapshot_holds_what_other_modules_registered():
    """What the fixture above relies on: a test module's recipe, registered after the entry
    points loaded, survives another test resetting the registry for a while."""
    from robustprune.recipes import RECIPES, Recipe, register_recipe

    RECIPES.load_entry_points()
    register_recipe(
        Recipe("snapshot-test", 1, 8, 0.1, 0.0), origin="tests/test_plugin_extensions.py"
    )
    try:
        saved = RECIPES.snapshot()
        RECIPES.reset()
        assert "snapshot-test" not in RECIPES
        register_recipe(
            Recipe("meanwhile", 1, 8, 0.1, 0.0), origin="tests/test_plugin_extensions.py"
        )
        RECIPES.restore(saved)
        assert "snapshot-test" in RECIPES and "meanwhile" not in RECIPES
    finally:
        RECIPES.unregister("snapshot-test")
