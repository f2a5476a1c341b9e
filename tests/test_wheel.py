"""The benchmark from a built wheel, as a user without a checkout runs it.

A wheel is built from a copy of the sources in a temporary directory and installed, with a
user's pruner package (docs/pruning.md's ``randprune``) and dataset/model package
(docs/plugin.md's ``mydigits``), into a fresh virtual environment. That environment reuses this
one's installed dependencies (torch, ...) through a ``.pth`` file but not its robustprune: the
tests check that ``robustprune`` is imported from the wheel. Everything then runs from an empty
directory with ``pytest --pyargs robustprune.benchmarks``, as do the shipped baseline
(``--rp-compare digits``), ``robustprune bench epoch-times`` and the package page's checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from test_plugin_extensions import doc_block, write_data
from tiny import reproducible_records

from robustprune.baselines import list_baselines

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
PRUNING_DOC = REPO / "docs" / "pruning.md"


def user_suite() -> str:
    """docs/plugin.md's mydigits suite, with the user's pruner next to WT."""
    return doc_block("# mydigits/mydigits.toml").replace(
        'methods = ["WT"]', 'methods = ["WT", "Random"]'
    )


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900):
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def write_package(root: Path, pyproject: str, modules: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        pyproject + '\n[build-system]\nrequires = ["setuptools"]\n'
        'build-backend = "setuptools.build_meta"\n'
    )
    for path, text in modules.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def user_packages(root: Path) -> list[Path]:
    """The two packages of the docs' worked examples, as source trees pip can install."""
    randprune = write_package(
        root / "randprune",
        doc_block("# pyproject.toml", PRUNING_DOC).removeprefix("# pyproject.toml\n"),
        {"randprune/__init__.py": doc_block("# randprune/__init__.py", PRUNING_DOC)},
    )
    mydigits = write_package(
        root / "mydigits",
        doc_block("# mydigits/pyproject.toml"),
        {"mydigits/__init__.py": doc_block("# mydigits/mydigits/__init__.py")},
    )
    return [randprune, mydigits]


def pip_install(python: Path | str, *args: str | Path) -> None:
    run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-build-isolation", "--no-index", "--quiet", *map(str, args)],
        cwd=REPO,
    )  # fmt: skip


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh venv with robustprune from a wheel built in a temporary directory, plus the
    user's packages; returns its python, an empty working directory and a data root."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "docs/pypi.md"):  # docs/pypi.md: the readme, the package page
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "robustprune", source / "robustprune",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )  # fmt: skip
    dist = root / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(dist), str(source)],
        cwd=root,
    )  # fmt: skip
    [wheel] = dist.glob("robustprune-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    venv_site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=root).stdout.strip()
    )  # fmt: skip
    # torch and the other dependencies from this environment; its robustprune stays invisible
    # (an editable install is activated by a .pth file of its own, which this does not run)
    (venv_site / "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip_install(python, "--force-reinstall", wheel)
    packages = user_packages(root / "packages")
    pip_install(python, *packages)
    # the same user packages for the checkout's run, on PYTHONPATH
    target = root / "checkout-site"
    pip_install(sys.executable, "--target", target, *packages)
    work = root / "empty"
    work.mkdir()
    return {
        "python": python,
        "work": work,
        "data": write_data(root / "data"),
        "checkout_site": target,
    }


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def test_the_wheel_is_imported_and_ships_the_suites(wheel_env: dict[str, Path]) -> None:
    python, work = wheel_env["python"], wheel_env["work"]
    where = run(
        [str(python), "-c", "import robustprune, sys; print(robustprune.__file__)"],
        cwd=work, env=clean_env(),
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(python.parent.parent)), f"robustprune imported from {where}"
    suites = run([str(python), "-m", "robustprune", "list", "suites"], cwd=work, env=clean_env())
    for name in ("digits", "cifar10", "imagenet", "voc2011"):
        assert name in suites.stdout
    pruners = run([str(python), "-m", "robustprune", "list", "pruners"], cwd=work, env=clean_env())
    assert "Random" in pruners.stdout  # the user's pruner, through its entry point


@pytest.mark.parametrize(
    ("selection", "expected"),
    [([], 4 * 5), (["-m", "smoke"], 4)],  # 4 archs x (4 built-in methods + Random); resnet20 x 4
    ids=["default", "smoke"],
)
def test_the_default_suite_and_its_smoke_subset_collect_from_the_wheel(
    wheel_env: dict[str, Path], selection: list[str], expected: int
) -> None:
    python, work = wheel_env["python"], wheel_env["work"]
    result = run(
        [str(python), "-m", "pytest", "--pyargs", "robustprune.benchmarks", "--co", "-q",
         "-p", "no:cacheprovider", *selection],
        cwd=work, env=clean_env(),
    )  # fmt: skip
    ids = [line for line in result.stdout.splitlines() if "test_prune_potential[" in line]
    assert len(ids) == expected and all("[digits-" in line for line in ids), result.stdout


def test_a_users_suite_from_the_wheel_under_xdist_matches_the_checkout(
    wheel_env: dict[str, Path], tmp_path: Path
) -> None:
    """The user's suite, pruner, dataset and model: wheel with -n 2 == checkout with -n 0."""
    python, work, data = wheel_env["python"], wheel_env["work"], wheel_env["data"]
    (work / "wheeled.toml").write_text(user_suite())
    wheel_run = run(
        [str(python), "-m", "pytest", "--pyargs", "robustprune.benchmarks", "-n", "2",
         "--rp-suite", "wheeled.toml", "--rp-data", str(data),
         "--rp-cache", str(tmp_path / "cache-wheel"), "--rp-leaderboard", str(tmp_path / "wheel"),
         "-p", "no:cacheprovider"],
        cwd=work, env=clean_env(),
    )  # fmt: skip
    assert "2 passed" in wheel_run.stdout, wheel_run.stdout
    assert "[gw0]" in wheel_run.stdout  # the workers' progress reaches the controller
    run(
        [sys.executable, "-m", "pytest", "benchmarks/", "-n", "0",
         "--rp-suite", str(work / "wheeled.toml"), "--rp-data", str(data),
         "--rp-cache", str(tmp_path / "cache-checkout"),
         "--rp-leaderboard", str(tmp_path / "checkout"), "-p", "no:cacheprovider"],
        cwd=REPO, env=clean_env(PYTHONPATH=str(wheel_env["checkout_site"])),
    )  # fmt: skip
    from_wheel = reproducible_records(tmp_path / "wheel" / "leaderboard.json")
    assert {r["method"] for r in from_wheel} == {"WT", "Random"}
    assert from_wheel == reproducible_records(tmp_path / "checkout" / "leaderboard.json")
    assert json.loads((tmp_path / "wheel" / "leaderboard.json").read_text())["records"]


def test_the_wheel_ships_the_baselines_and_rp_compare_finds_them_by_name(
    wheel_env: dict[str, Path], tmp_path: Path
) -> None:
    """README's gate from an empty directory: ``--rp-compare digits`` is the shipped file."""
    python, work = wheel_env["python"], wheel_env["work"]
    robustprune = python.parent / "robustprune"  # the console script of the wheel
    listed = run([str(robustprune), "list", "baselines"], cwd=work, env=clean_env())
    assert listed.stdout.split() == list_baselines()  # every shipped one, e.g. digits, digits_zoo
    shipped = Path(
        run([str(python), "-c", "from robustprune.baselines import shipped_baseline; "
             "print(shipped_baseline('digits'))"], cwd=work, env=clean_env()).stdout.strip()
    )  # fmt: skip
    assert shipped.is_file() and shipped.is_relative_to(python.parent.parent), shipped
    shutil.copyfile(shipped, tmp_path / "current.json")
    compared = run(
        [str(robustprune), "compare", "digits", str(tmp_path / "current.json"),
         "--fail", "prune_potential:0.05"],
        cwd=work, env=clean_env(),
    )  # fmt: skip
    assert "0 regression(s)" in compared.stdout
    # the baseline is resolved and loaded at startup (--co records nothing, so no gate here)
    collected = run(
        [str(python), "-m", "pytest", "--pyargs", "robustprune.benchmarks", "--co", "-q",
         "-m", "smoke", "-p", "no:cacheprovider", "--rp-compare", "digits"],
        cwd=work, env=clean_env(),
    )  # fmt: skip
    assert "4/20 tests collected" in collected.stdout, collected.stdout
    unknown = subprocess.run(
        [str(python), "-m", "pytest", "--pyargs", "robustprune.benchmarks", "--co", "-q",
         "-p", "no:cacheprovider", "--rp-compare", "digitz"],
        cwd=work, env=clean_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unknown.returncode == pytest.ExitCode.USAGE_ERROR
    assert "'digitz' is neither a file" in unknown.stderr
    assert "shipped baselines: digits" in unknown.stderr


def test_the_wheel_ships_the_epoch_time_bench(wheel_env: dict[str, Path]) -> None:
    """docs/ray.md sizes a GPU job with ``robustprune bench epoch-times``: no checkout needed."""
    python, work = wheel_env["python"], wheel_env["work"]
    helped = run(
        [str(python.parent / "robustprune"), "bench", "epoch-times", "--help"],
        cwd=work, env=clean_env(),
    )  # fmt: skip
    assert "usage: robustprune bench epoch-times" in helped.stdout
    assert "--max-batch" in helped.stdout
    refused = subprocess.run(
        [str(python), "-m", "robustprune.bench.epoch_times", "--archs", "nonet"],
        cwd=work, env=clean_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--archs nonet: not in suite(s) cifar10" in refused.stderr
    assert "resnet20" in refused.stderr


def test_the_wheel_ships_the_statistics_benches(wheel_env: dict[str, Path]) -> None:
    """docs/statistics.md chooses shifts with ``robustprune bench shift-power`` and checks the
    held-out claims with ``robustprune bench claims``: both run without a checkout."""
    python, work = wheel_env["python"], wheel_env["work"]
    for name, option in (("shift-power", "--seed-bootstrap"), ("claims", "--methods")):
        helped = run(
            [str(python.parent / "robustprune"), "bench", name, "--help"],
            cwd=work, env=clean_env(),
        )  # fmt: skip
        assert f"usage: robustprune bench {name}" in helped.stdout
        assert option in helped.stdout


def test_the_package_page_has_pip_first_commands_and_no_relative_links(
    wheel_env: dict[str, Path],
) -> None:
    """The wheel's long description (what a package index shows) must work without a checkout."""
    venv = wheel_env["python"].parent.parent
    [metadata] = venv.glob("lib/python*/site-packages/robustprune-*.dist-info/METADATA")
    description = metadata.read_text().split("\n\n", 1)[1]
    assert description.lstrip().startswith("# robustprune")
    assert "pip install robustprune" in description
    assert "pytest --pyargs robustprune.benchmarks" in description
    targets = re.findall(r"\]\(([^)]*)\)", description)
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert not relative, f"relative links are dead on a package index: {relative}"
    assert "benchmarks/" not in description.replace("robustprune.benchmarks", "")
