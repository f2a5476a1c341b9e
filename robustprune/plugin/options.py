"""The ``--rp-*`` command-line options and their parsed form, ``RunOptions``."""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from robustprune.leaderboard import Gate, parse_gate
from robustprune.paths import default_cache_root

DEFAULT_SUITE = "digits"


@dataclass(frozen=True)
class RunOptions:
    """What the user asked of the benchmark harness in this pytest run."""

    suite: str
    """Suite name (``benchmarks/suites/<name>.toml``) or path to a suite TOML file."""
    data: Path | None
    """Root of on-disk datasets, or None for the embedded ones only."""
    cache: Path
    """Artifact store directory."""
    leaderboard: Path | None
    """Directory to write leaderboard.json/.md/.csv into, or None."""
    compare: Path | None
    """Baseline leaderboard file to compare against, or None."""
    compare_fail: tuple[Gate, ...]
    """Regression gates; any failing gate fails the session."""
    report: Path | None
    """Directory for the figures and index.html of robustprune.report, or None."""
    seeds: int | None
    """Seed count overriding the suite's, or None for the suite's own."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _gate(text: str) -> Gate:
    try:
        return parse_gate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_options(parser: pytest.Parser) -> None:
    """Register the ``robustprune`` option group."""
    group = parser.getgroup("robustprune", "robustprune benchmark harness")
    group.addoption(
        "--rp-suite", metavar="NAME|PATH", default=DEFAULT_SUITE,
        help=f"benchmark suite: a name in benchmarks/suites/ or a TOML path (default: {DEFAULT_SUITE})",
    )  # fmt: skip
    group.addoption(
        "--rp-data", metavar="DIR", default=None,
        help="root of on-disk datasets (default: $ROBUSTPRUNE_DATA)",
    )  # fmt: skip
    group.addoption(
        "--rp-cache", metavar="DIR", default=None,
        help="artifact cache (default: $ROBUSTPRUNE_CACHE, else $XDG_CACHE_HOME/robustprune/artifacts)",
    )  # fmt: skip
    group.addoption(
        "--rp-leaderboard", metavar="DIR", default=None,
        help="write leaderboard.json, leaderboard.md and leaderboard.csv into DIR",
    )  # fmt: skip
    group.addoption(
        "--rp-compare", metavar="BASELINE.json", default=None,
        help="compare this run's leaderboard with a baseline leaderboard file",
    )  # fmt: skip
    group.addoption(
        "--rp-compare-fail", metavar="METRIC:TOL", action="append", type=_gate, default=[],
        help="fail the session when METRIC regresses by more than TOL against --rp-compare "
        "(repeatable; e.g. prune_potential:0.05)",
    )  # fmt: skip
    group.addoption(
        "--rp-report", metavar="DIR", default=None,
        help="write figures and index.html for this run's leaderboard into DIR",
    )  # fmt: skip
    group.addoption(
        "--rp-seeds", metavar="N", type=_positive_int, default=None,
        help="number of seeds per case, overriding the suite's",
    )  # fmt: skip


def parse_options(config: pytest.Config) -> RunOptions:
    """Build RunOptions from the command line and the environment; UsageError on bad values."""
    gates = tuple(config.getoption("rp_compare_fail"))
    compare = config.getoption("rp_compare")
    if gates and compare is None:
        raise pytest.UsageError(
            "--rp-compare-fail needs a baseline: add --rp-compare BASELINE.json"
        )
    data = config.getoption("rp_data") or os.environ.get("ROBUSTPRUNE_DATA") or None
    cache = config.getoption("rp_cache")

    def path(value: str | None) -> Path | None:
        return None if value is None else Path(value).expanduser()

    return RunOptions(
        suite=config.getoption("rp_suite"),
        data=path(data),
        cache=path(cache) or default_cache_root(),
        leaderboard=path(config.getoption("rp_leaderboard")),
        compare=path(compare),
        compare_fail=gates,
        report=path(config.getoption("rp_report")),
        seeds=config.getoption("rp_seeds"),
    )


def check_cache_dir(path: Path) -> None:
    """Create the artifact cache ``path`` if needed; a UsageError when it is not a writable directory.

    Benchmark runs call this at configure time, so a read-only or misplaced cache is one line
    before anything trains (the xdist progress file lives there too).
    """
    hint = "choose another with --rp-cache DIR or $ROBUSTPRUNE_CACHE"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except FileExistsError:
        raise pytest.UsageError(
            f"artifact cache {path} exists but is not a directory; {hint}"
        ) from None
    except OSError as error:
        raise pytest.UsageError(
            f"artifact cache {path} is not a writable directory ({error.strerror or error}); "
            f"robustprune stores parents, prune steps and progress there; {hint}"
        ) from None


options_key = pytest.StashKey[RunOptions]()


def get_options(config: pytest.Config) -> RunOptions:
    """This run's RunOptions (parsed once per process at configure time)."""
    if options_key not in config.stash:
        config.stash[options_key] = parse_options(config)
    return config.stash[options_key]
