"""``--rp-ray``: the benchmark on a real multi-node Ray cluster on this machine.

A ``ray.cluster_utils.Cluster`` (a head without CPUs, so every task runs on one of two worker
nodes of one CPU each) serves the whole module. Each run is ``pytest benchmarks/`` in a
subprocess, through the real harness, on docs/plugin.md's worked example (``mydigits``:
tinynet, quick recipes, one seed, two ratios), with a conftest adding two plugin pruners that
must travel to the workers by value: ``Boom`` (raises) and ``SlowWT`` (WT that says on which
node it runs and sleeps, so a node can be removed, or the driver killed, under it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from test_plugin_extensions import (  # noqa: E402
    doc_block,
    install_worked_example,
    write_data,
)
from tiny import reproducible_records  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # a Ray cluster and real training

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024

CONFTEST = '''
import os
import time
from pathlib import Path

from robustprune.pruning.magnitude import WeightThresholding


class Boom(WeightThresholding):
    name = "Boom"

    def prune(self, model, prune_ratio, sample):
        raise RuntimeError("boom: this pruner always fails")


class SlowWT(WeightThresholding):
    """WT that leaves <node id>-<pid> in $RP_TEST_MARKERS and sleeps: time to kill its node."""

    name = "SlowWT"

    def prune(self, model, prune_ratio, sample):
        import ray

        markers = Path(os.environ["RP_TEST_MARKERS"])
        node = ray.get_runtime_context().get_node_id()
        (markers / f"{node}-{os.getpid()}").write_text(str(prune_ratio))
        time.sleep(4)
        return super().prune(model, prune_ratio, sample)


def pytest_robustprune_pruners(registry):
    registry.register(Boom, origin="test conftest.py")
    registry.register(SlowWT, origin="test conftest.py")
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark directory (benchmarks/, conftest, suites), the data and the plugin site."""
    root = tmp_path_factory.mktemp("ray")
    install_worked_example(root / "site")
    write_data(root / "data")
    shutil.copytree(
        REPO / "benchmarks",
        root / "benchmarks",
        ignore=shutil.ignore_patterns("__pycache__", "bench_*.py", "baselines"),
    )
    (root / "conftest.py").write_text(CONFTEST)
    suite = doc_block("# mydigits/mydigits.toml")
    for name, methods in {
        "two": '["WT", "SiPP"]',
        "boom": '["WT", "Boom"]',
        "slow": '["SlowWT"]',
    }.items():
        (root / f"{name}.toml").write_text(
            suite.replace('methods = ["WT"]', f"methods = {methods}")
        )
    (root / "markers").mkdir()
    return root


@pytest.fixture(scope="module")
def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(work / "site"), str(REPO)]),
        OMP_NUM_THREADS="1",
        RP_TEST_MARKERS=str(work / "markers"),
        RAY_DEDUP_LOGS="0",
    )
    env.pop("ROBUSTPRUNE_THREADS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


@pytest.fixture(scope="module")
def cluster(environment: dict[str, str]):
    """Head (no CPUs: it only drives) plus two worker nodes of one CPU each."""
    from ray.cluster_utils import Cluster

    saved = dict(os.environ)
    os.environ.update(environment)  # the nodes' worker processes inherit it
    try:
        common = {"include_dashboard": False, "object_store_memory": 100 * MB}
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **common})
        for _ in range(2):
            cluster.add_node(num_cpus=1, **common)
        cluster.wait_for_nodes()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    yield cluster
    cluster.shutdown()


def bench_command(work: Path, suite: str, cache: str, out: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "benchmarks/", "--rp-suite", f"{suite}.toml",
        "--rp-data", str(work / "data"), "--rp-cache", str(work / cache),
        "--rp-leaderboard", str(work / out), "-p", "no:cacheprovider", *extra,
    ]  # fmt: skip


def run_bench(
    work: Path, env: dict[str, str], suite: str, cache: str, out: str, *extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        bench_command(work, suite, cache, out, *extra),
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def records(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["records"]


def fresh_markers(work: Path) -> Path:
    """The (emptied) folder where SlowWT leaves a marker per prune step."""
    markers = work / "markers"
    for marker in markers.iterdir():
        marker.unlink()
    return markers


def stored(cache: Path, kind: str) -> list[Path]:
    """The sidecars of the ``kind`` artifacts in a store (an artifact is complete once it has one)."""
    return sorted(cache.glob(f"{kind}/*/*.json"))


def busy_workers(environment: dict[str, str]) -> list[str]:
    """Titles of this module's Ray worker processes that run a task or an actor (not idle ones)."""
    tag = f"RP_TEST_MARKERS={environment['RP_TEST_MARKERS']}".encode()
    busy = []
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if title.startswith("ray::") and not title.endswith(("::IDLE", "Agent")):
                if tag in (proc / "environ").read_bytes().split(b"\0"):
                    busy.append(title)
        except OSError:  # gone meanwhile, or not ours
            continue
    return busy


def wait_until_idle(environment: dict[str, str]) -> None:
    """Wait until Ray has ended every task and actor of this module's finished or killed drivers."""
    deadline = time.monotonic() + 60
    while busy := busy_workers(environment):
        assert time.monotonic() < deadline, f"Ray workers still busy: {busy}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def serial(work: Path, environment: dict[str, str]) -> Path:
    """The ``-n 0`` leaderboard of the two-method suite (no Ray)."""
    result = run_bench(work, environment, "two", "cache-serial", "out-serial", "-n", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    return work / "out-serial" / "leaderboard.json"


def test_driver_store_gives_the_serial_leaderboard(work, environment, cluster, serial) -> None:
    result = run_bench(
        work, environment, "two", "cache-driver", "out-driver",
        "--rp-ray", cluster.address, "--rp-ray-store", "driver",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ray: 7 tasks for 2 cases" in output  # shifts, parent, parent_eval, 2 curves, 2 cases
    # each unit a test waits for is echoed as it finishes, computed or loaded
    for line in ("parent tinynet seed 0 computed", "curve tinynet/WT seed 0 computed",
                 "curve tinynet/SiPP seed 0 computed", "case tinynet/WT done"):  # fmt: skip
        assert re.search(rf"\[robustprune\] ray [1-7]/7: {line}", output), line
    assert reproducible_records(work / "out-driver" / "leaderboard.json") == reproducible_records(
        serial
    )
    for record in records(work / "out-driver" / "leaderboard.json"):
        assert record["environment"]["threads"] == 1
        assert record["artifacts"] == {"curve": ["computed"], "parent": ["computed"]}
    # every artifact the serial run stored, the driver's store holds (imported from the tasks)
    stored = {p.relative_to(work / "cache-serial") for p in (work / "cache-serial").rglob("*.json")}
    imported = {
        p.relative_to(work / "cache-driver") for p in (work / "cache-driver").rglob("*.json")
    }
    assert stored <= imported
    # a warm rerun loads everything the tasks look up (through the driver's store)
    warm = run_bench(
        work, environment, "two", "cache-driver", "out-warm", "--rp-ray", cluster.address
    )
    assert warm.returncode == 0, warm.stdout + warm.stderr
    for record in records(work / "out-warm" / "leaderboard.json"):
        assert record["artifacts"] == {"curve": ["loaded"], "parent": ["loaded"]}
    assert "curve tinynet/WT seed 0 loaded" in warm.stdout + warm.stderr
    assert reproducible_records(work / "out-warm" / "leaderboard.json") == reproducible_records(
        serial
    )


def test_shared_store_gives_the_serial_leaderboard(work, environment, cluster, serial) -> None:
    result = run_bench(
        work, environment, "two", "cache-shared", "out-shared",
        "--rp-ray", cluster.address, "--rp-ray-store", "shared",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert reproducible_records(work / "out-shared" / "leaderboard.json") == reproducible_records(
        serial
    )
    stored = {p.relative_to(work / "cache-serial") for p in (work / "cache-serial").rglob("*.json")}
    shared = {p.relative_to(work / "cache-shared") for p in (work / "cache-shared").rglob("*.json")}
    assert stored <= shared


def test_a_raising_pruner_fails_only_its_case_with_the_remote_traceback(
    work, environment, cluster
) -> None:
    shutil.copytree(work / "cache-driver", work / "cache-boom")  # parent and WT: loaded
    result = run_bench(
        work, environment, "boom", "cache-boom", "out-boom", "--rp-ray", cluster.address
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 passed, 1 error" in output, output
    assert (
        "ERROR benchmarks/test_prune_potential.py::test_prune_potential[mydigits-tinynet-Boom]"
        in output
    )
    assert "curve tinynet/Boom seed 0 failed on the Ray cluster" in output
    assert "RuntimeError: boom: this pruner always fails" in output
    assert "conftest.py" in output and "in prune" in output  # the remote traceback's frames
    [record] = records(work / "out-boom" / "leaderboard.json")
    assert record["method"] == "WT"


@pytest.mark.parametrize("store", ["driver", "shared"])
def test_a_killed_driver_resumes_from_the_store(work, environment, cluster, serial, store) -> None:
    """SIGKILL the driver mid-curve; the same command then loads the parent and the finished step.

    SlowWT sleeps before each of its two prune steps, so the driver dies while the curve's task
    is in the second step, after the first one reached the store.
    """
    fresh_markers(work)
    cache, out = work / f"cache-killed-{store}", work / f"out-killed-{store}"
    ray_options = ("--rp-ray", cluster.address, "--rp-ray-store", store)
    command = bench_command(work, "slow", cache.name, out.name, *ray_options)
    with open(work / f"killed-{store}.log", "w+") as log:
        driver = subprocess.Popen(
            command, cwd=work, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill all of the driver at once
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not (stored(cache, "parent") and stored(cache, "prune_step")):
                if driver.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail("the curve's first step never reached the store\n" + log.read())
                time.sleep(0.05)
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait(timeout=30)
    [step] = stored(cache, "prune_step")  # the second step was in flight
    first_step = step.stat().st_mtime_ns
    wait_until_idle(environment)  # Ray ends the dead driver's job: its tasks and actor stop

    rerun = run_bench(work, environment, "slow", cache.name, out.name, *ray_options)
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output
    assert "1 passed" in output, output
    [record] = records(out / "leaderboard.json")
    # the parent and the first step loaded (the curve is "mixed"), the second step computed
    assert record["artifacts"] == {"curve": ["mixed"], "parent": ["loaded"]}, record["artifacts"]
    assert len(stored(cache, "prune_step")) == 2
    assert step.stat().st_mtime_ns == first_step  # not written again
    # complete, and the numbers of an uninterrupted -n 0 run of WT (SlowWT is WT, slower)
    [wt] = [r for r in reproducible_records(serial) if r["method"] == "WT"]
    [resumed] = reproducible_records(out / "leaderboard.json")
    assert resumed["curve"] == wt["curve"] and resumed["summary"] == wt["summary"]
    wait_until_idle(environment)


def test_a_worker_node_removed_mid_task_is_retried_elsewhere(work, environment, cluster) -> None:
    """The node running SlowWT's curve goes away under it; Ray reruns it on the other node."""
    shutil.copytree(work / "cache-driver", work / "cache-slow")  # the parent is loaded
    markers = fresh_markers(work)
    process = subprocess.Popen(
        bench_command(work, "slow", "cache-slow", "out-slow", "--rp-ray", cluster.address),
        cwd=work, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers = {node.node_id: node for node in cluster.worker_nodes}
    removed = None
    deadline = time.monotonic() + 120
    while removed is None and time.monotonic() < deadline and process.poll() is None:
        for marker in markers.iterdir():
            node_id = marker.name.rsplit("-", 1)[0]
            if node_id in workers:
                cluster.remove_node(workers[node_id], allow_graceful=False)
                removed = node_id
                break
        time.sleep(0.2)
    output, _ = process.communicate(timeout=240)
    assert removed is not None, "SlowWT never started on a worker node\n" + output
    assert process.returncode == 0, output
    assert "1 passed" in output
    ran_on = {marker.name.rsplit("-", 1)[0] for marker in markers.iterdir()}
    assert len(ran_on) == 2 and removed in ran_on  # started on the removed node, ended elsewhere
    [record] = records(work / "out-slow" / "leaderboard.json")
    assert (record["method"], record["artifacts"]["curve"]) == ("SlowWT", ["computed"])
    assert record["seeds"] == [0] and record["curve"]


def test_usage_errors(work, environment) -> None:
    result = run_bench(
        work, environment, "two", "cache-usage", "out-usage", "--rp-ray", "auto", "-n", "2"
    )
    assert result.returncode == 4
    assert "--rp-ray cannot be combined with -n 2" in result.stdout + result.stderr


def test_without_ray_installed_the_option_names_the_extra(monkeypatch) -> None:
    import importlib.util

    from robustprune.plugin.options import check_ray_options

    class Config:
        def getoption(self, name, default=None):
            return {"rp_ray": "local", "numprocesses": None}.get(name, default)

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(pytest.UsageError, match=r"pip install robustprune\[ray\]"):
        check_ray_options(Config())
