"""Wall time of the benchmark under -n 0, -n 2 and --rp-ray on a local two-node Ray cluster.

    OMP_NUM_THREADS=1 python benchmarks/bench_ray.py                    # smoke subset + resnet20
    OMP_NUM_THREADS=1 python benchmarks/bench_ray.py --only smoke       # the smoke subset only
    OMP_NUM_THREADS=1 python benchmarks/bench_ray.py --arch wrn16_2 --cpus-per-node 1

Every run is cold (its own empty artifact store) and goes through ``pytest benchmarks/`` in a
subprocess, as a user runs it. The Ray cluster is a ``ray.cluster_utils.Cluster`` with a head
that takes no tasks and two worker nodes, so Ray's scheduling, object transfer (the driver
store mode: weights travel through Ray) and the driver's bookkeeping are all on the clock; on a
2-core machine it has the same cores as ``-n 2``, so its overhead against ``-n 2`` is the cost
of the Ray path. The script also checks that each run's leaderboard equals the ``-n 0`` one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

from robustprune.leaderboard import reproducible_part

REPO = Path(__file__).resolve().parent.parent


def comparable(path: Path) -> list[dict[str, Any]]:
    """The leaderboard's records without what differs between cold runs, in case order."""
    records = json.loads(path.read_text())["records"]
    return sorted(map(reproducible_part, records), key=lambda r: (r["arch"], r["method"]))


def run_benchmark(selection: list[str], mode: list[str], work: Path) -> dict[str, Any]:
    """One cold ``pytest benchmarks/`` run; returns wall seconds, exit code and the records."""
    out = work / "leaderboard"
    command = [
        sys.executable, "-m", "pytest", "benchmarks/", *selection, *mode, "-q",
        "-p", "no:cacheprovider", "--rp-cache", str(work / "cache"), "--rp-leaderboard", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
    board = out / "leaderboard.json"
    return {
        "seconds": seconds,
        "exit": result.returncode,
        "records": comparable(board) if board.exists() else None,
    }


def start_cluster(nodes: int, cpus_per_node: int) -> Any:
    from ray.cluster_utils import Cluster

    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the nodes' worker processes
    common = {"include_dashboard": False, "object_store_memory": 200 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **common})
    for _ in range(nodes):
        cluster.add_node(num_cpus=cpus_per_node, **common)
    cluster.wait_for_nodes()
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet20", help="the full architecture to time")
    parser.add_argument("--only", choices=["smoke", "arch"], help="time one selection only")
    parser.add_argument("--nodes", type=int, default=2, help="Ray worker nodes (default 2)")
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--store", choices=["driver", "shared"], default="driver")
    args = parser.parse_args()

    selections = {
        "smoke subset (-m smoke)": ["-m", "smoke"],
        f"{args.arch}, every method (-k {args.arch})": ["-k", args.arch],
    }
    if args.only == "smoke":
        selections = dict(list(selections.items())[:1])
    elif args.only == "arch":
        selections = dict(list(selections.items())[1:])

    cluster = start_cluster(args.nodes, args.cpus_per_node)
    ray_mode = ["--rp-ray", cluster.address, "--rp-ray-store", args.store]
    modes = {"-n 0": ["-n", "0"], "-n 2": ["-n", "2"], f"ray ({args.nodes} nodes)": ray_mode}
    rows = []
    try:
        for label, selection in selections.items():
            results = {}
            for mode, flags in modes.items():
                with tempfile.TemporaryDirectory(prefix="bench-ray-") as work:
                    results[mode] = run_benchmark(selection, flags, Path(work))
                print(f"{label}, {mode}: {results[mode]['seconds']:.1f} s", flush=True)
            serial, pair = results["-n 0"], results["-n 2"]
            for mode, result in results.items():
                overhead = (result["seconds"] / pair["seconds"] - 1) * 100
                rows.append(
                    [
                        label,
                        mode,
                        f"{result['seconds']:.1f}",
                        f"{overhead:+.1f} %",
                        "ok" if result["exit"] == 0 else f"exit {result['exit']}",
                        "yes" if result["records"] == serial["records"] else "NO",
                    ]
                )
    finally:
        cluster.shutdown()
    print()
    print(
        tabulate(
            rows,
            headers=["selection", "mode", "wall s", "vs -n 2", "pytest", "leaderboard == -n 0"],
        )
    )
    print(f"\nmachine: {os.cpu_count()} cores; Ray store mode {args.store}; all runs cold")


if __name__ == "__main__":
    main()
