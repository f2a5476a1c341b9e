"""The ``--rp-*`` command-line options and their parsed form, ``RunOptions``."""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from robustprune.baselines import BaselineError, resolve_baseline
from robustprune.history import LATEST, default_history_dir, latest_run
from robustprune.leaderboard import Gate, gate_argument
from robustprune.paths import default_cache_root
from robustprune.suite import SuiteError, parse_seeds

DEFAULT_SUITE = "digits"
RAY_STORES = ("driver", "shared")


@dataclass(frozen=True)
class RunOptions:
    """What the user asked of the benchmark harness in this pytest run."""

    suite: str
    """Suite name (``robustprune/suites/<name>.toml``) or path to a suite TOML file."""
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
    seeds: tuple[int, ...] | None
    """Seed count overriding the suite's, or None for the suite's own."""
    autosave: bool = False
    """Store this run's leaderboard in ``history`` (``--rp-autosave``)."""
    history: Path | None = None
    """Run history directory (``--rp-history``, else ``$ROBUSTPRUNE_HISTORY``, else ``<cache>/history``)."""
    compare_note: str | None = None
    """Why ``--rp-compare latest`` compares with nothing (no stored run of the suite yet)."""
    ray: str | None = None
    """``--rp-ray``: ``auto``, ``local`` or a Ray address; None runs the work in pytest itself."""
    ray_store: str = "driver"
    """``--rp-ray-store``: ``driver`` (tasks ship artifacts to the driver) or ``shared``."""
    case_timeout: float | None = None
    """``--rp-case-timeout``: seconds one case may run before it fails, or None for no limit."""


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return parse_seeds(text)
    except SuiteError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 3600, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_options(parser: pytest.Parser) -> None:
    """Register the ``robustprune`` option group."""
    group = parser.getgroup("robustprune", "robustprune benchmark harness")
    group.addoption(
        "--rp-suite", metavar="NAME|PATH", default=DEFAULT_SUITE,
        help=f"benchmark suite: a shipped suite name (robustprune list suites) or a TOML path (default: {DEFAULT_SUITE})",
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
        "--rp-compare", metavar="BASELINE.json|RUN_DIR|NAME|latest", nargs="?", const=LATEST,
        default=None,
        help="compare this run's leaderboard with a baseline leaderboard file, a stored run's "
        "directory, a shipped baseline by name (e.g. digits; robustprune list baselines), or "
        "(no value, or 'latest') the last stored run of the same suite",
    )  # fmt: skip
    group.addoption(
        "--rp-autosave", action="store_true", default=False,
        help="store this run's leaderboard and provenance in the run history",
    )  # fmt: skip
    group.addoption(
        "--rp-history", metavar="DIR", default=None,
        help="run history directory (default: $ROBUSTPRUNE_HISTORY, else <--rp-cache>/history)",
    )  # fmt: skip
    group.addoption(
        "--rp-compare-fail", metavar="METRIC:TOL", action="append", type=gate_argument, default=[],
        help="fail the session when METRIC is worse than the --rp-compare baseline by more "
        "than TOL with 95%% confidence (repeatable; e.g. prune_potential:4%%, which gates nominal "
        "and shifted prune potential)",
    )  # fmt: skip
    group.addoption(
        "--rp-report", metavar="DIR", default=None,
        help="write figures and index.html for this run's leaderboard into DIR",
    )  # fmt: skip
    group.addoption(
        "--rp-seeds", metavar="N|A-B|A,B", type=_seeds, default=None,
        help="seeds per case, overriding the suite's: a count N (seeds 0..N-1), a range A-B or "
        "a list A,B,C (held-out seeds for claims, e.g. 100-104)",
    )  # fmt: skip
    group.addoption(
        "--rp-ray", metavar="auto|local|ADDRESS", default=None,
        help="run parents, curves and evaluations as Ray tasks: 'auto' joins a running cluster, "
        "'local' starts one here, else a Ray address such as 127.0.0.1:6379 (docs/ray.md)",
    )  # fmt: skip
    group.addoption(
        "--rp-ray-store", choices=RAY_STORES, default=None,
        help="with --rp-ray: 'driver' (default) ships each task's artifacts back to the driver's "
        "--rp-cache; 'shared' lets tasks open --rp-cache themselves (a shared filesystem)",
    )  # fmt: skip
    group.addoption(
        "--rp-case-timeout", metavar="SECONDS", type=_seconds, default=None,
        help="fail a case that runs longer than SECONDS (everything it runs, parents it is the "
        "first to need included); the other cases go on (default: no limit)",
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

    ray = check_ray_options(config)
    suite = config.getoption("rp_suite")
    cache_dir = path(cache) or default_cache_root()
    history = path(config.getoption("rp_history")) or default_history_dir(cache_dir)
    baseline, note = resolve_compare(compare, suite, history, bool(gates))
    return RunOptions(
        suite=suite,
        data=path(data),
        cache=cache_dir,
        leaderboard=path(config.getoption("rp_leaderboard")),
        compare=baseline,
        compare_fail=gates,
        report=path(config.getoption("rp_report")),
        seeds=config.getoption("rp_seeds"),
        autosave=config.getoption("rp_autosave"),
        history=history,
        compare_note=note,
        ray=ray,
        ray_store=config.getoption("rp_ray_store") or RAY_STORES[0],
        case_timeout=config.getoption("rp_case_timeout"),
    )


def check_ray_options(config: pytest.Config) -> str | None:
    """``--rp-ray``'s value; a UsageError with ``-n N`` (N > 0) or when Ray is not installed."""
    address = config.getoption("rp_ray")
    if address is None:
        store = config.getoption("rp_ray_store")
        if store is not None:
            raise pytest.UsageError(
                f"--rp-ray-store {store} only applies with --rp-ray (auto, local or a Ray "
                "address); add --rp-ray, or drop --rp-ray-store"
            )
        return None
    if not address.strip():
        raise pytest.UsageError(
            "--rp-ray needs 'auto', 'local' or a Ray address such as 127.0.0.1:6379"
        )
    workers = config.getoption("numprocesses", default=None)
    if workers not in (None, 0, "0"):
        raise pytest.UsageError(
            f"--rp-ray cannot be combined with -n {workers}: the Ray cluster runs the work in "
            "parallel and this pytest process drives it; drop -n (or use -n 0)"
        )
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise pytest.UsageError(
            "--rp-ray needs Ray, which is not installed: pip install robustprune[ray]"
        )
    return address.strip()


def suite_name(suite: str) -> str:
    """The ``name`` of the suite ``--rp-suite`` selects (its file stem when it cannot be read)."""
    from robustprune.suite import SuiteError, load_suite

    try:
        return load_suite(suite).name
    except SuiteError:
        return Path(suite).stem


def resolve_compare(
    value: str | None, suite: str, history: Path, gated: bool
) -> tuple[Path | None, str | None]:
    """The ``--rp-compare`` baseline file, and a note when ``latest`` finds no stored run.

    ``value`` is a leaderboard file, a stored run's directory, a shipped baseline's name
    (``digits``, see robustprune.baselines) or ``latest``. With no stored run a gated run is a
    usage error (a gate must not pass on nothing); otherwise the run goes on with a note.
    """
    if value is None:
        return None, None
    if value == LATEST:
        name = suite_name(suite)
        run = latest_run(history, name)
        if run is not None:
            return run.leaderboard, None
        message = f"--rp-compare latest: no stored run of suite {name!r} in {history}"
        if gated:
            raise pytest.UsageError(
                f"{message}, so --rp-compare-fail has nothing to compare with; store one first "
                "with --rp-autosave (without --rp-compare-fail), or give a baseline file"
            )
        return None, f"{message}; nothing compared (store runs with --rp-autosave)"
    try:
        baseline = resolve_baseline(value)
    except BaselineError as error:
        raise pytest.UsageError(f"--rp-compare: {error}") from None
    if baseline.is_dir():
        if not (baseline / "leaderboard.json").is_file():
            raise pytest.UsageError(
                f"--rp-compare: {baseline} is a directory without leaderboard.json; give a "
                "leaderboard file, a stored run's directory, or 'latest' (a bare --rp-compare "
                "before test paths takes the next argument as its value: write --rp-compare latest)"
            )
        baseline = baseline / "leaderboard.json"
    return baseline, None


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
