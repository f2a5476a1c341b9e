"""A worker that dies fails the case it was running; the other cases run and the leaderboard is
written (xdist's LoadScopeScheduling re-queued the crashed case too: pytest-xdist PR #1371)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_plugin_extensions import doc_block, worked_example  # noqa: F401  (fixture)
from test_scheduling import FakeNode, ids

pytest_plugins = ["pytester"]


def scheduler_with(nodeids: list[str], workers: int):
    from robustprune.plugin.scheduling import make_case_group_scheduler

    config = type("Config", (), {})()
    config.option = type("Option", (), {"loadscopereorder": True, "maxworkerrestart": None})()
    config.getvalue = lambda name: [f"{workers}*popen"] if name == "tx" else None
    scheduler = make_case_group_scheduler(config, None)
    nodes = [FakeNode(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, nodeids)
    scheduler.schedule()
    return scheduler, nodes


def test_worker_crash_requeues_the_rest_of_its_group_but_not_the_crashed_case() -> None:
    cases = ids("d-a-Crash", "d-a-WT", "d-b-Crash", "d-b-WT")
    scheduler, nodes = scheduler_with(cases, workers=2)
    crashed_node = next(node for node in nodes if cases.index(cases[0]) in node.sent)
    assert scheduler.remove_node(crashed_node) == cases[0]  # xdist reports this one as failed
    replacement = FakeNode("gw2")
    scheduler.add_node(replacement)
    scheduler.add_node_collection(replacement, cases)
    scheduler.schedule()
    assert [cases[i] for i in replacement.sent] == [cases[1]]  # only d-a-WT runs again


def test_worker_crash_on_a_per_case_schedule_runs_every_other_case() -> None:
    cases = ids("d-a-Crash", "d-a-WT", "d-a-FT")  # one group on two workers: one case per unit
    scheduler, nodes = scheduler_with(cases, workers=2)
    crashed_node = nodes[0]
    crashed_case = cases[crashed_node.sent[0]]
    assert scheduler.remove_node(crashed_node) == crashed_case
    sent = [cases[i] for node in nodes[1:] for i in node.sent]
    assert crashed_case not in sent
    assert scheduler.remove_node(nodes[1]) in (None, *cases)


CRASH_CONFTEST = '''
import os
import signal

from robustprune import Pruner


class Crash(Pruner):
    """Kills its process from outside, like the OOM killer or a segfault in native code."""

    name, structured, data_informed = "Crash", False, False

    def prune(self, model, prune_ratio, sample):
        os.kill(os.getpid(), signal.SIGKILL)


def pytest_robustprune_pruners(registry):
    registry.register(Crash, origin="conftest.py")
'''


@pytest.mark.slow
def test_worker_crash_fails_only_its_case_and_the_leaderboard_is_written(
    pytester: pytest.Pytester,
    tmp_path: Path,
    worked_example: Path,  # noqa: F811
) -> None:
    suite = doc_block("# mydigits/mydigits.toml").replace(
        'methods = ["WT"]', 'methods = ["Crash", "WT"]'
    )
    (pytester.path / "crash.toml").write_text(suite)
    (pytester.path / "conftest.py").write_text(CRASH_CONFTEST)
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "crash.toml", "--rp-data", str(worked_example), "-n", "2",
        "--rp-cache", str(tmp_path / "cache"), "--rp-leaderboard", str(tmp_path / "out"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    result.assert_outcomes(passed=1, failed=1)
    assert "maximum crashed workers" not in output
    assert "crashed while running" in output and "mydigits-tinynet-Crash" in output
    [record] = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["records"]
    assert record["method"] == "WT"


EXIT_CONFTEST = CRASH_CONFTEST.replace("os.kill(os.getpid(), signal.SIGKILL)", "os._exit(0)")


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["0", "2"])
def test_os_exit_0_in_a_pruner_fails_its_case_not_the_run_with_exit_0(
    pytester: pytest.Pytester,
    tmp_path: Path,
    worked_example: Path,  # noqa: F811
    workers: str,
) -> None:
    suite = doc_block("# mydigits/mydigits.toml").replace(
        'methods = ["WT"]', 'methods = ["Crash", "WT"]'
    )
    (pytester.path / "exit.toml").write_text(suite)
    (pytester.path / "conftest.py").write_text(EXIT_CONFTEST)
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "exit.toml", "--rp-data", str(worked_example), "-n", workers,
        "--rp-cache", str(tmp_path / "cache"), "--rp-leaderboard", str(tmp_path / "out"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1, output
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 1, output
    assert "mydigits-tinynet-Crash] called os._exit(0)" in output
    [record] = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["records"]
    assert record["method"] == "WT"


MANY_CRASHES_CONFTEST = CRASH_CONFTEST.replace(
    """def pytest_robustprune_pruners(registry):
    registry.register(Crash, origin="conftest.py")""",
    """def pytest_robustprune_pruners(registry):
    for number in range(5):
        registry.register(type(f"Crash{number}", (Crash,), {"name": f"Crash{number}"}), origin="conftest.py")""",
)


@pytest.mark.slow
def test_more_crashing_cases_than_xdists_restart_budget_still_finish_the_run(
    pytester: pytest.Pytester,
    tmp_path: Path,
    worked_example: Path,  # noqa: F811
) -> None:
    """xdist stops after 4 crashes per worker by default; a benchmark run allows one per case."""
    crashes = ", ".join(f'"Crash{number}"' for number in range(5))
    suite = doc_block("# mydigits/mydigits.toml").replace(
        'methods = ["WT"]', f'methods = [{crashes}, "WT"]'
    )
    (pytester.path / "crashes.toml").write_text(suite)
    (pytester.path / "conftest.py").write_text(MANY_CRASHES_CONFTEST)
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-suite", "crashes.toml", "--rp-data", str(worked_example), "-n", "1",
        "--rp-cache", str(tmp_path / "cache"), "--rp-leaderboard", str(tmp_path / "out"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert "maximum crashed workers" not in output, output
    result.assert_outcomes(passed=1, failed=5)
    [record] = json.loads((tmp_path / "out" / "leaderboard.json").read_text())["records"]
    assert record["method"] == "WT"
