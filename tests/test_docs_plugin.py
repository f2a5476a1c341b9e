"""docs/plugin.md's code blocks run as written.

The packaged pruner is built and installed with pip (no network, no build isolation) into a
directory on ``PYTHONPATH`` of a subprocess, which finds it registered from its entry point,
prunes with it and runs the suite of docs/architecture.md that gives it arguments. The conftest
snippets run in pytest sessions of their own. Every Python and TOML block of docs/plugin.md is
one that a test executes (the test names its first line).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_plugin_extensions import DOC, doc_block

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
ARCHITECTURE = REPO / "docs" / "architecture.md"

TESTS = Path(__file__).resolve().parent


def code_blocks(doc: Path) -> list[str]:
    """Every fenced Python or TOML block of ``doc``, dedented (list items indent theirs)."""
    return [
        textwrap.dedent(block)
        for block in re.findall(r"```(?:python|toml)\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    ]


def block_with(first_line: str, doc: Path = DOC) -> str:
    """The dedented Python or TOML block of ``doc`` starting with ``first_line``."""
    found = [block for block in code_blocks(doc) if block.startswith(first_line + "\n")]
    assert len(found) == 1, f"{doc.name}: {len(found)} code blocks start with {first_line!r}"
    return found[0]


def test_every_python_and_toml_block_is_executed_by_a_test() -> None:
    """A test that executes a block finds it by its first line, so every first line is named,
    quoted, in some test module."""
    sources = "".join(path.read_text() for path in TESTS.glob("test_*.py"))
    first_lines = [block.split("\n", 1)[0] for block in code_blocks(DOC)]
    assert [line for line in first_lines if f'"{line}"' not in sources] == []
    assert len(set(first_lines)) == len(first_lines), "two blocks share a first line"


PRUNE_AND_CHECK = """
import json, sys
from pathlib import Path

import torch
from torch import nn

from robustprune.identity import code_identity, registered_provenance
from robustprune.pruning import ENTRY_POINT_GROUP, default_registry, parameter_count, validate_masks
from robustprune.suite import SuiteError, load_suite, validate_suite

registry = default_registry()
cls = registry.get("NoisyMag")
torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4)
)
sample = [(torch.randn(8, 1, 6, 6), torch.randint(0, 4, (8,)))]
masks = cls(noise=1.0).prune(model, 0.5, sample)
achieved = validate_masks("NoisyMag", model, masks, 0.5, parameter_count(model))

suite = load_suite(sys.argv[1])
validate_suite(suite, registry.names())
strong = suite.pruner_spec("noisy_strong").create(registry, suite.path)
bad = Path(sys.argv[2])
bad.write_text(Path(sys.argv[1]).read_text().replace("noise = 1.0", "noise = -1.0"))
try:
    validate_suite(load_suite(bad), registry.names())
    refused = None
except SuiteError as error:
    refused = str(error)
print(json.dumps({
    "achieved": achieved,
    "provenance": registered_provenance(registry.origin("NoisyMag"), cls, ENTRY_POINT_GROUP),
    "code": code_identity(cls),
    "cases": [case.id for case in suite.cases(registry.names())],
    "strong_noise": strong.noise,
    "refused": refused,
}))
"""


def test_the_packaged_pruner_builds_installs_and_registers_offline(tmp_path: Path) -> None:
    package = tmp_path / "noisymag"
    (package / "noisymag").mkdir(parents=True)
    (package / "pyproject.toml").write_text(block_with("# noisymag/pyproject.toml"))
    (package / "noisymag" / "__init__.py").write_text(block_with("# noisymag/noisymag/__init__.py"))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(site), str(package)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = subprocess.run(
        [sys.executable, "-m", "robustprune", "list", "pruners", "--include", "Noisy*"],
        check=True, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["NoisyMag"]

    suite = tmp_path / "noise.toml"
    suite.write_text(block_with("# noise.toml", ARCHITECTURE))
    checked = subprocess.run(
        [sys.executable, "-c", PRUNE_AND_CHECK, str(suite), str(tmp_path / "bad.toml")],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr[-3000:]
    result = json.loads(checked.stdout.splitlines()[-1])
    assert result["achieved"] == pytest.approx(0.5, abs=0.005)
    assert result["provenance"] == {
        "origin": "entry point 'noisymag' (noisymag:NoisyMagnitude) in robustprune.pruners",
        "distribution": "noisymag",
        "version": "0.1.0",
    }
    assert (result["code"]["distribution"], result["code"]["version"]) == ("noisymag", "0.1.0")
    assert "noise-resnet20-noisy_strong" in result["cases"]
    assert result["strong_noise"] == 1.0
    assert (
        "[pruners.noisy_strong]: NoisyMagnitude(noise=-1.0) raised ValueError: noise must be"
        in (result["refused"] or "")
    )


PRUNE_ONE_STEP = """
import torch
from torch import nn

from robustprune.pruning import parameter_count, validate_masks


def test_the_hook_registers_a_pruner_that_meets_the_contract(rp_pruners):
    pruner = rp_pruners.get("RAND")()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 6 * 6, 4))
    sample = [(torch.randn(8, 1, 6, 6), torch.randint(0, 4, (8,)))]
    masks = pruner.prune(model, 0.7, sample)
    achieved = validate_masks("RAND", model, masks, 0.7, parameter_count(model))
    assert abs(achieved - 0.7) <= 0.005
    assert rp_pruners.origin("RAND") == "conftest.py"
"""


def test_the_conftest_pruner_hook_registers_a_working_pruner(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(block_with("# conftest.py: random scores, registered by the hook"))
    pytester.makepyfile(test_rand=PRUNE_ONE_STEP)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


def test_the_options_snippet_shows_this_runs_options(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        block_with("# conftest.py: the suite and cache of this run in pytest's header")
    )
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    cache = pytester.path / "my-cache"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--rp-cache={cache}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"robustprune options: suite digits, cache {cache}"])


REGISTERED_KINDS = """
from robustprune.extensions import load_extensions


def test_the_hooks_registered_the_dataset_and_the_model(rp_pruners):
    assert load_extensions("datasets").origin("mydigits") == "conftest.py"
    assert load_extensions("models").origin("tinynet") == "conftest.py"
"""


def test_the_dataset_and_model_hooks_register_them(pytester: pytest.Pytester) -> None:
    # the worked example's module next to the conftest, without its entry points (they would
    # register the same names first)
    (pytester.path / "mydigits").mkdir()
    (pytester.path / "mydigits" / "__init__.py").write_text(
        doc_block("# mydigits/mydigits/__init__.py")
    )
    pytester.makeconftest(block_with("def pytest_robustprune_datasets(registry):"))
    pytester.makepyfile(test_kinds=REGISTERED_KINDS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
