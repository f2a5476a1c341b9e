"""The ``robustprune`` command line: list registries, render and compare leaderboards, reports.

    robustprune --version
    robustprune list models|datasets|pruners|shifts|recipes|suites|baselines [--include PATTERN]
    robustprune render leaderboard.json [--format text|md|csv]
    robustprune compare BASELINE.json|NAME CURRENT.json [--fail METRIC:TOL ...]
    robustprune report leaderboard.json OUT_DIR
    robustprune history [SUITE] [--history DIR] [--paths]
    robustprune suite show NAME | robustprune suite copy NAME [DEST]
    robustprune bench epoch-times [ARGS]

Exit status: 0 success, 1 a regression (compare), 2 bad usage or an unreadable file.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from robustprune.baselines import BaselineError, list_baselines, resolve_baseline
from robustprune.bench import BENCHES
from robustprune.extensions import load_extensions
from robustprune.history import default_history_dir, describe, list_runs
from robustprune.leaderboard import (
    ALL_METRICS,
    Gate,
    GateError,
    LeaderboardError,
    check_gates,
    compare,
    gate_argument,
    load_leaderboard,
    render_comparison,
    render_csv,
    render_markdown,
    render_text,
)
from robustprune.paths import name_problem


def _with_broken(names: list[str], broken: dict[str, str]) -> list[str]:
    """Registered names, then disabled plugins as ``"<entry point> (broken: <why>)"``."""
    return names + [f"{name} (broken: {why})" for name, why in sorted(broken.items())]


def _lister(kind: str) -> Callable[[], list[str]]:
    """Pruners, models, datasets, shifts or recipes: built-ins and entry points, then broken plugins."""

    def listing() -> list[str]:
        registry = load_extensions(kind)
        return _with_broken(registry.listing(), registry.broken())

    return listing


def _list_suites() -> list[str]:
    return importlib.import_module("robustprune.suite").list_suites()


LISTINGS: dict[str, Callable[[], list[str]]] = {
    "models": _lister("models"),
    "datasets": _lister("datasets"),
    "pruners": _lister("pruners"),
    "shifts": _lister("shifts"),
    "recipes": _lister("recipes"),
    "suites": _list_suites,
    "baselines": list_baselines,
}
RENDERERS = {"text": render_text, "md": render_markdown, "csv": render_csv}


def _version() -> str:
    """The installed distribution's version (``robustprune.__version__`` without metadata)."""
    try:
        return importlib.metadata.version("robustprune")
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(importlib.import_module("robustprune"), "__version__", "unknown"))


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog="robustprune", description="Pruned networks beyond test accuracy: leaderboards."
    )
    parser.add_argument(
        "--version", action="version", version=f"robustprune {_version()}",
        help="print the installed robustprune version and exit",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser(
        "list",
        help="list registered models, datasets, pruners, shifts, recipes, or the shipped suites "
        "and baselines",
    )
    listing.add_argument("what", choices=sorted(LISTINGS))
    listing.add_argument("--include", metavar="PATTERN", help="only names matching this glob")

    render = commands.add_parser("render", help="print a leaderboard file as tables")
    render.add_argument("leaderboard", type=Path, metavar="LEADERBOARD.json")
    render.add_argument("--format", choices=sorted(RENDERERS), default="text")

    comparing = commands.add_parser(
        "compare",
        help="compare two leaderboard files; exit 1 on a regression",
        description="A change is a regression when the one-sided 95% lower bound of how much "
        "worse it is lies above 0 (bounds from per-example outcomes when both files have them, "
        "else from the baseline's interval). Without --fail any regression of any summary "
        "metric exits 1; with --fail only those whose lower bound exceeds the tolerance do, and "
        "a gate that finds no case in common with the baseline fails.",
    )
    comparing.add_argument(
        "baseline", metavar="BASELINE.json|NAME",
        help="a leaderboard file, or a shipped baseline by name (robustprune list baselines)",
    )  # fmt: skip
    comparing.add_argument("current", type=Path, metavar="CURRENT.json")
    comparing.add_argument(
        "--fail", metavar="METRIC:TOL", type=gate_argument, action="append", default=[],
        help=f"gate (repeatable); METRIC is one of {', '.join(ALL_METRICS)} or prune_potential; "
        "TOL is absolute (0.05) or in percentage points (5%%)",
    )  # fmt: skip

    history = commands.add_parser(
        "history",
        help="list the runs stored by pytest --rp-autosave, oldest first",
        description="One line per stored run: suite, run directory name (UTC time and commit), "
        "records, commit of the checkout, command line. The directory is --history, else "
        "$ROBUSTPRUNE_HISTORY, else <$ROBUSTPRUNE_CACHE or the default cache>/history.",
    )
    history.add_argument("suite", nargs="?", help="only the runs of this suite")
    history.add_argument("--history", type=Path, metavar="DIR", help="the run history directory")
    history.add_argument(
        "--paths", action="store_true", help="print each run's leaderboard.json path instead"
    )

    suite = commands.add_parser(
        "suite",
        help="print a shipped suite, or copy it to edit and run as --rp-suite FILE",
        description="Shipped suites are the names `robustprune list suites` prints.",
    )
    suite_actions = suite.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = suite_actions.add_parser("show", help="print the suite's TOML file")
    show.add_argument("name", metavar="NAME")
    copy = suite_actions.add_parser(
        "copy", help="copy the suite's TOML file (never over an existing file)"
    )
    copy.add_argument("name", metavar="NAME")
    copy.add_argument(
        "dest",
        nargs="?",
        type=Path,
        metavar="DEST",
        help="file or directory (default: ./NAME.toml)",
    )

    bench = commands.add_parser(
        "bench",
        help="run a shipped benchmark script (epoch-times: what a suite costs on this device)",
        description="The rest of the command line goes to the script: "
        "robustprune bench epoch-times --help lists its options.",
    )
    bench.add_argument("name", choices=sorted(BENCHES), metavar="NAME", help=", ".join(BENCHES))
    bench.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")

    report = commands.add_parser("report", help="write figures and index.html for a leaderboard")
    report.add_argument("leaderboard", type=Path, metavar="LEADERBOARD.json")
    report.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    return parser


def run_list(what: str, include: str | None) -> int:
    try:
        with warnings.catch_warnings():  # a disabled plugin is listed below, not warned about
            warnings.simplefilter("ignore")
            names = LISTINGS[what]()
    except (ImportError, AttributeError) as error:
        raise CommandError(f"cannot list {what}: {error}") from None
    for name in names:
        if include is None or fnmatch.fnmatch(name.split(" ", 1)[0], include):
            print(name)
    return 0


def run_render(path: Path, fmt: str) -> int:
    sys.stdout.write(RENDERERS[fmt](load_leaderboard(path)))
    return 0


def run_compare(baseline: str, current: Path, gates: Sequence[Gate]) -> int:
    try:
        old = load_leaderboard(resolve_baseline(baseline))
    except BaselineError as error:
        raise CommandError(str(error)) from None
    try:
        check_gates(gates, old)
    except GateError as error:
        raise CommandError(str(error)) from None
    comparison = compare(old, load_leaderboard(current))
    sys.stdout.write(render_comparison(comparison, gates))
    failed = comparison.gate_failures(gates) if gates else comparison.regressions
    return 1 if failed else 0


def run_history(suite: str | None, directory: Path | None, paths: bool) -> int:
    given = directory is not None
    directory = directory or default_history_dir()
    if suite is not None and (problem := name_problem(suite)) is not None:
        raise CommandError(f"suite name {suite!r} {problem}")
    if directory.exists() and not directory.is_dir():
        hint = (
            "--history takes the directory that pytest --rp-autosave stores runs in (see "
            "--rp-history), not a file"
            if given
            else "$ROBUSTPRUNE_HISTORY must name a directory"
        )
        raise CommandError(f"the run history {directory} is a file; {hint}")
    if given and not directory.exists():
        raise CommandError(
            f"the run history {directory} does not exist; give the directory pytest "
            "--rp-autosave --rp-history DIR stored runs in"
        )
    runs = list_runs(directory, suite)
    if not runs:
        which = f"of suite {suite!r} " if suite else ""
        print(f"no stored runs {which}in {directory} (store one with pytest --rp-autosave)")
        return 0
    for run in runs:
        print(run.leaderboard if paths else describe(run))
    return 0


def shipped_suite(name: str) -> Path:
    """The TOML file of shipped suite ``name``; CommandError listing the shipped ones."""
    suites = importlib.import_module("robustprune.suite")
    names = suites.list_suites()
    if name not in names:
        raise CommandError(f"no shipped suite {name!r}; shipped suites: {', '.join(names)}")
    return suites.SUITES_DIR / f"{name}.toml"


def run_suite(action: str, name: str, dest: Path | None) -> int:
    source = shipped_suite(name)
    if action == "show":
        sys.stdout.write(source.read_text(encoding="utf-8"))
        return 0
    target = dest or Path(f"{name}.toml")
    if target.is_dir():
        target = target / source.name
    if target.exists():
        raise CommandError(f"{target} exists; nothing was copied (give another DEST)")
    try:
        with target.open("x", encoding="utf-8") as stream:
            stream.write(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise CommandError(f"cannot write {target}: {error.strerror or error}") from None
    print(
        f"wrote {target}; give it a new 'name' before changing settings (runs are compared by "
        f"name), then: pytest --pyargs robustprune.benchmarks --rp-suite {target}"
    )
    return 0


def run_bench(name: str, args: Sequence[str]) -> int:
    """Run shipped benchmark ``name`` with ``args`` (its own parser reads them)."""
    module = importlib.import_module(BENCHES[name])
    module.main(list(args), prog=f"robustprune bench {name}")
    return 0


def run_report(path: Path, out_dir: Path) -> int:
    leaderboard = load_leaderboard(path)
    try:
        write_report = importlib.import_module("robustprune.report").write_report
    except (ImportError, AttributeError) as error:
        raise CommandError(
            f"cannot write a report: robustprune.report is unavailable: {error}"
        ) from None
    try:
        index = write_report(leaderboard, out_dir)
    except OSError as error:  # an unwritable directory, a full disk: one line, no traceback
        where = error.filename or out_dir
        raise CommandError(
            f"cannot write the report to {where}: {error.strerror or error}"
        ) from None
    except ValueError as error:  # ReportDirectoryError: files the report did not write
        raise CommandError(str(error)) from None
    print(f"wrote {index if index is not None else out_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error already printed by argparse
        return exit.code if isinstance(exit.code, int) else 2
    try:
        status = _run(args)
        sys.stdout.flush()  # inside the try: a closed pipe is noticed here, not at exit
        return status
    except (CommandError, LeaderboardError) as error:
        print(f"robustprune {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `robustprune list shifts | head -1`: the reader has had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so flushing at exit raises nothing either
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        return run_list(args.what, args.include)
    if args.command == "render":
        return run_render(args.leaderboard, args.format)
    if args.command == "compare":
        return run_compare(args.baseline, args.current, args.fail)
    if args.command == "history":
        return run_history(args.suite, args.history, args.paths)
    if args.command == "suite":
        return run_suite(args.action, args.name, getattr(args, "dest", None))
    if args.command == "bench":
        return run_bench(args.name, args.args)
    return run_report(args.leaderboard, args.out_dir)


if __name__ == "__main__":
    sys.exit(main())
