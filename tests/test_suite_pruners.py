"""Parameters in suites: one pruner class under several labels, each with its own arguments.

A ``[pruners.<label>]`` table names a registered class and its keyword arguments; the label
names the method in case ids and records, the class and the arguments name it in the prune
steps' keys and in records. Bad tables are refused when the suite is loaded or checked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tiny import RecordingStore, SeededRandom, conftest_registering, tiny_data
from torch import nn

import robustprune
from robustprune.harness import CaseRunner
from robustprune.history import save_run
from robustprune.identity import registered_provenance
from robustprune.leaderboard import (
    make_leaderboard,
    settings_differences,
    suite_differences,
    validate_record,
)
from robustprune.pipeline import prune_curve
from robustprune.pruning import (
    ENTRY_POINT_GROUP,
    Pruner,
    PrunerRegistry,
    default_registry,
)
from robustprune.recipes import Recipe, list_recipes, register_recipe
from robustprune.record import build_record
from robustprune.suite import SuiteError, load_suite, validate_suite

pytest_plugins = ["pytester"]


class NeedsScale(SeededRandom):
    """A pruner with a required argument."""

    name = "NeedsScale"

    def __init__(self, scale: float, *, seed: int = 0) -> None:
        super().__init__(seed)
        self.scale = scale


def registry() -> PrunerRegistry:
    pruners = PrunerRegistry()
    pruners.register(default_registry().get("WT"), origin="robustprune")
    for cls in (SeededRandom, NeedsScale):
        pruners.register(cls, origin="tests/test_suite_pruners.py")
    return pruners


REPO = Path(__file__).resolve().parent.parent

REGISTERED = ["NeedsScale", "SeededRandom", "WT"]

SUITE = """
name = "labels"
dataset = "digits"
archs = ["resnet8"]
methods = ["WT", "SeededRandom", "random_seed1"]
train_recipe = "labels-test-train"
retrain_recipe = "labels-test-train"
shifts = ["noise:uniform:0.3"]

[grid]
ratios = [0.3]

[pruners.random_seed1]
pruner = "SeededRandom"
seed = 1
"""

if "labels-test-train" not in list_recipes():
    register_recipe(
        Recipe("labels-test-train", 1, 128, 0.1, 5e-4), origin="tests/test_suite_pruners.py"
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.toml"
    path.write_text(text)
    return path


def test_a_label_runs_its_class_with_its_arguments(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, SUITE))
    validate_suite(suite, REGISTERED, registry())
    assert [case.id for case in suite.cases(REGISTERED)] == [
        "labels-resnet8-WT",
        "labels-resnet8-SeededRandom",
        "labels-resnet8-random_seed1",
    ]
    spec = suite.pruner_spec("random_seed1")
    assert (spec.pruner, dict(spec.arguments)) == ("SeededRandom", {"seed": 1})
    assert spec.record() == {"class": "SeededRandom", "arguments": {"seed": 1}}
    built = spec.create(registry(), suite.path)
    assert isinstance(built, SeededRandom) and built.seed == 1
    # a name without a table is the registered pruner without arguments
    assert suite.pruner_spec("WT").record() == {"class": "WT", "arguments": {}}


def test_labels_join_every_registered_pruner_when_methods_is_empty(tmp_path: Path) -> None:
    suite = load_suite(
        write(tmp_path, SUITE.replace('["WT", "SeededRandom", "random_seed1"]', "[]"))
    )
    assert [case.method for case in suite.cases(REGISTERED)] == [*REGISTERED, "random_seed1"]


def test_labels_take_smoke_marks_and_method_thresholds(tmp_path: Path) -> None:
    text = SUITE + (
        '\n[smoke]\nmethods = ["random_seed1"]\n'
        "\n[thresholds.methods.random_seed1]\nnominal_pp = 0.2\n"
    )
    suite = load_suite(write(tmp_path, text))
    validate_suite(suite, REGISTERED, registry())
    assert [case.method for case in suite.cases(REGISTERED) if case.smoke] == ["random_seed1"]
    assert suite.thresholds_for("random_seed1").nominal_pp == 0.2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[pruners.random-1]\npruner = "SeededRandom"\n',
            "label 'random-1' in [pruners]: a label has 1-60 letters, digits, '_', '.', ':' or "
            "'+', starting with a letter or digit",
        ),
        ("[pruners.random_seed1]\nseed = 1\n", "required key 'pruner' in [pruners.random_seed1]"),
        (
            "[pruners.random_seed1]\npruner = 3\n",
            "'pruner' in [pruners.random_seed1] must be a string, got 3",
        ),
        ("[pruners]\nrandom_seed1 = 3\n", "[pruners.random_seed1] must be a table, got 3"),
        (
            '[pruners.random_seed1]\npruner = "SeededRandom"\nseed = 1\n'
            '[pruners.other]\npruner = "WT"\n',
            "[pruners.other] defines a method that 'methods' ['WT', 'SeededRandom', "
            "'random_seed1'] does not list; add 'other' to 'methods' or remove the table",
        ),
        (
            '[pruners.random_seed1]\npruner = "SeededRandom"\nseed = 1979-05-27\n',
            "'seed' in [pruners.random_seed1] is a TOML date or time",
        ),
    ],
)
def test_malformed_pruner_tables_are_refused_on_load(
    tmp_path: Path, table: str, message: str
) -> None:
    text = SUITE.split("[pruners.random_seed1]")[0] + table
    with pytest.raises(SuiteError) as error:
        load_suite(write(tmp_path, text))
    assert message in str(error.value)
    assert str(tmp_path / "labels.toml") in str(error.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[pruners.random_seed1]\npruner = "SeededRandm"\n',
            "[pruners.random_seed1] names pruner 'SeededRandm', which is not registered (did "
            "you mean 'SeededRandom'?); valid: ['NeedsScale', 'SeededRandom', 'WT']",
        ),
        (
            '[pruners.random_seed1]\npruner = "SeededRandom"\nsed = 1\n',
            "[pruners.random_seed1] (pruner 'SeededRandom'): argument 'sed' (did you mean "
            "'seed'?) is not accepted by SeededRandom; its arguments: seed",
        ),
        (
            '[pruners.random_seed1]\npruner = "NeedsScale"\nseed = 1\n',
            "[pruners.random_seed1] (pruner 'NeedsScale'): NeedsScale needs the argument "
            "'scale'; its arguments: scale, seed",
        ),
        (
            '[pruners.random_seed1]\npruner = "SeededRandom"\nseed = -1\n',
            "[pruners.random_seed1]: SeededRandom(seed=-1) raised ValueError: seed must be "
            ">= 0, got -1",
        ),
    ],
)
def test_a_class_that_cannot_take_the_arguments_is_refused_before_training(
    tmp_path: Path, table: str, message: str
) -> None:
    suite = load_suite(write(tmp_path, SUITE.split("[pruners.random_seed1]")[0] + table))
    with pytest.raises(SuiteError) as error:
        validate_suite(suite, REGISTERED, registry())
    assert message in str(error.value)


def test_a_label_may_not_reuse_a_registered_name(tmp_path: Path) -> None:
    text = SUITE.replace("random_seed1", "WT").replace('"WT", "SeededRandom", "WT"', '"WT"')
    suite = load_suite(write(tmp_path, text))
    with pytest.raises(SuiteError, match="'WT' is a registered pruner's name, which always"):
        suite.cases(REGISTERED)


RECIPE = Recipe("labels-test-retrain", epochs=1, batch_size=32, lr=0.05, weight_decay=0.0)


def tiny_parent() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


def test_arguments_are_part_of_the_prune_step_key(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "cache")
    parent, data = tiny_parent(), tiny_data()

    def curve(pruner: Pruner, arguments: dict | None):
        return prune_curve(
            parent, data, pruner, [0.5], RECIPE, seed=0, device="cpu", store=store,
            parent_key="tiny", sample_size=8, arguments=arguments,
        )  # fmt: skip

    plain = curve(SeededRandom(), None)
    seeded = curve(SeededRandom(seed=1), {"seed": 1})
    again = curve(SeededRandom(seed=1), {"seed": 1})
    keys = [fields for kind, fields, _ in store.requests if kind == "prune_step"]
    # without arguments the key has no "arguments" field: keys of existing runs stay as they are
    assert "arguments" not in keys[0] and keys[1]["arguments"] == {"seed": 1}
    assert keys[1] == keys[2] and [c for _, _, c in store.requests] == [True, True, False]
    masks = [point.masks for point in (plain[0], seeded[0], again[0])]
    assert any(not torch.equal(masks[0][name], masks[1][name]) for name in masks[0])
    assert all(torch.equal(masks[1][name], masks[2][name]) for name in masks[1])


def test_two_labels_of_one_class_run_end_to_end_with_their_own_results(tmp_path: Path) -> None:
    text = SUITE.replace('"WT", "SeededRandom"', '"SeededRandom"')
    suite = load_suite(write(tmp_path, text))
    runner = CaseRunner(suite, RecordingStore(tmp_path / "cache"), "cpu", registry=registry())
    cases = suite.cases(REGISTERED)
    records = [build_record(runner.run(case), num_classes=10) for case in cases]
    for record in records:
        validate_record(record)
    plain, seeded = records
    assert (plain["method"], seeded["method"]) == ("SeededRandom", "random_seed1")
    assert plain["pruner"] == {"class": "SeededRandom", "arguments": {}}
    assert seeded["pruner"] == {"class": "SeededRandom", "arguments": {"seed": 1}}
    assert plain["curve"] != seeded["curve"]  # other weights removed, other accuracies
    steps = [fields for kind, fields, _ in runner.store.requests if kind == "prune_step"]
    assert [fields.get("arguments") for fields in steps] == [None, {"seed": 1}]
    # where the class comes from (a conftest-style registration: its origin only), once per
    # class in the leaderboard file and the stored run
    origin = {"origin": "tests/test_suite_pruners.py", "distribution": None, "version": None}
    assert seeded["environment"]["pruner"] == origin
    leaderboard = make_leaderboard(records)
    assert leaderboard["environment"]["pruners"] == {"SeededRandom": origin}
    stored = save_run(leaderboard, tmp_path / "history", tmp_path, ["benchmarks/"])
    assert json.loads((stored.path / "run.json").read_text())["pruners"] == {"SeededRandom": origin}


def test_a_built_in_pruner_is_recorded_as_robustprune_and_its_version() -> None:
    registry = default_registry()
    assert registered_provenance(registry.origin("WT"), registry.get("WT"), ENTRY_POINT_GROUP) == {
        "origin": registry.origin("WT"),
        "distribution": "robustprune",
        "version": robustprune.__version__,
    }


def test_a_comparison_names_changed_arguments_of_a_label(tmp_path: Path) -> None:
    def record(arguments: dict | None) -> dict:
        made = {
            "suite": "labels", "dataset": "digits", "arch": "resnet8", "method": "random_seed1",
            "delta": 0.005, "seeds": [0], "distributions": ["nominal", "noise:uniform:0.3"],
            "curve": [[{"target_ratio": 0.3}]],
        }  # fmt: skip
        if arguments is not None:
            made["pruner"] = {"class": "SeededRandom", "arguments": arguments}
        return made

    assert settings_differences(record({"seed": 1}), record({"seed": 2})) == [
        "pruner {'class': 'SeededRandom', 'arguments': {'seed': 1}} -> "
        "{'class': 'SeededRandom', 'arguments': {'seed': 2}}"
    ]
    # records made before suite parameters carry no pruner: nothing to compare
    assert settings_differences(record(None), record({"seed": 2})) == []
    suite = load_suite(write(tmp_path, SUITE))
    assert suite_differences({"records": [record({"seed": 2})]}, suite, suite.seeds) == [
        "random_seed1 pruner {'class': 'SeededRandom', 'arguments': {'seed': 2}} -> "
        "{'class': 'SeededRandom', 'arguments': {'seed': 1}}"
    ]


HOOK_CONFTEST = conftest_registering("SeededRandom")


@pytest.fixture
def bench(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        REPO / "benchmarks",
        pytester.path / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "bench_*.py", "baselines"),
    )
    pytester.makeconftest(HOOK_CONFTEST)
    return pytester


def test_a_benchmark_run_lists_labels_and_refuses_bad_arguments_before_training(
    bench: pytest.Pytester,
) -> None:
    suite = SUITE.replace("labels-test-train", "digits")
    (bench.path / "labels.toml").write_text(suite.replace('"WT", ', ""))
    listed = bench.runpytest_subprocess("benchmarks/", "--rp-suite", "labels.toml", "--co", "-q")
    listed.stdout.fnmatch_lines(
        [
            "*methods SeededRandom, random_seed1 = SeededRandom(seed=1)",
            "*[[]labels-resnet8-SeededRandom[]]*",
            "*[[]labels-resnet8-random_seed1[]]*",
        ]
    )
    (bench.path / "bad.toml").write_text(suite.replace("seed = 1", "sed = 1"))
    refused = bench.runpytest_subprocess("benchmarks/", "--rp-suite", "bad.toml")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        ["*[[]pruners.random_seed1[]] (pruner 'SeededRandom'): argument 'sed' (did you mean "
         "'seed'?) is not accepted by SeededRandom; its arguments: seed*"]
    )  # fmt: skip
