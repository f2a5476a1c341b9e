"""``--rp-ray HOST:PORT`` where nothing listens is a usage error within seconds (ray.init
retried for about 150 s, then ended in an INTERNALERROR)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from test_plugin_extensions import REPO

from robustprune.plugin.ray_run import host_and_port

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    "address, target",
    [
        ("127.0.0.1:6379", ("127.0.0.1", 6379)),
        ("ray://head:10001", ("head", 10001)),
        ("[::1]:6379", ("::1", 6379)),
        ("auto", None),
        ("local", None),
    ],
)
def test_host_and_port(address: str, target: tuple[str, int] | None) -> None:
    assert host_and_port(address) == target


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket closes


def test_ray_unreachable_address_is_a_usage_error_within_seconds(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    import shutil

    shutil.copytree(REPO / "benchmarks", pytester.path / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__", "bench_*.py", "baselines"))  # fmt: skip
    port = closed_port()
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "benchmarks/", "--rp-ray", f"127.0.0.1:{port}", "--rp-cache", str(tmp_path / "cache"),
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert time.monotonic() - started < 60
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"*--rp-ray 127.0.0.1:{port}: nothing accepts connections*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
