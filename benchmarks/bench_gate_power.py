"""Power of the regression gate, exactly as CI runs it: detection rate against regression size,
and the false-alarm rate on neutral changes, from real per-example outcomes.

Input: a leaderboard whose records carry per-example outcomes (robustprune >= the outcomes
change) for at least 4 seeds, e.g. the smoke cases with 6 seeds:

    ROBUSTPRUNE_CACHE=/tmp/gp pytest benchmarks/ -m smoke -n 2 --rp-seeds 6 --rp-leaderboard /tmp/gp/lb
    python benchmarks/bench_gate_power.py /tmp/gp/lb/leaderboard.json

A trial plays one CI run: a *baseline* leaderboard made of two of the seeds (relabelled 0 and 1,
as the committed baseline's) and a *current* one made of two other seeds, relabelled the same
way: other parents, as on another machine class (on the baseline's own machine class an
unchanged run reproduces the baseline bit for bit and passes trivially). Every case of the
leaderboard (every method of an architecture shares its parents) is in both, and the gate is
``robustprune.leaderboard.compare`` with the ``--rp-compare-fail`` flags of ``.ci/run`` (or
``--gate``). Neutral trials measure false alarms. Injected trials make one method's pruned
networks get a further ``fraction`` of their test examples wrong (the same random examples at
every prune ratio, on the nominal set, on the shifts or on both), then measure the realised
drop of each metric on the full data and whether the gate failed.

Then trials on the baseline's own parents (the same machine class, so the gate runs paired):
the unchanged run with injected regressions; ``--paired LEADERBOARD``, a plugin copy of
``--method`` with a neutral change run on the same cache (the same parents), for false alarms;
``--regressed LEADERBOARD``, a truly regressed copy, for detection. The copies used for
docs/statistics.md are WT with scores times exp(sigma N(0, 1)): sigma = 0.01 (neutral: only
near-ties swap, yet every retrained network differs) and 0.5 (regressed).

Not collected by pytest (the name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from robustprune.leaderboard import compare, load_leaderboard, make_leaderboard, parse_gate
from robustprune.leaderboard.outcomes import case_outcomes, pack
from robustprune.leaderboard.resample import point_values

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("nominal_pp", "shifted_pp_mean", "nominal_accuracy_change", "shifted_accuracy_change")
SHORT = {"nominal_pp": "nom PP", "shifted_pp_mean": "shift PP", "nominal_accuracy_change":
         "nom Δacc", "shifted_accuracy_change": "shift Δacc"}  # fmt: skip
TARGETS = {"nominal_pp": 0.05, "shifted_pp_mean": 0.05, "nominal_accuracy_change": 0.01,
           "shifted_accuracy_change": 0.01}  # fmt: skip
"""The issue's targets: a 5-point PP drop, a 1-point drop in mean accuracy over the grid."""


def ci_gates() -> list[str]:
    """The ``--rp-compare-fail`` values of .ci/run's benchmark gate."""
    text = (ROOT / ".ci" / "run").read_text().replace("\\\n", " ")
    words = shlex.split(" ".join(line for line in text.splitlines() if "--rp-compare" in line))
    gates = [words[i + 1] for i, word in enumerate(words) if word == "--rp-compare-fail"]
    gates += [word.split("=", 1)[1] for word in words if word.startswith("--rp-compare-fail=")]
    return gates


def subset(record: dict[str, Any], seeds: tuple[int, ...], outcomes: Any = None) -> dict[str, Any]:
    """The record of ``seeds`` (indices into its seeds) relabelled 0..k-1, its outcome metrics'
    summary means recomputed from the outcomes (``outcomes``: replacement arrays)."""
    out = copy.deepcopy({k: v for k, v in record.items() if k != "outcomes"})
    block = record["outcomes"]
    parent = outcomes.parent if outcomes is not None else None
    pruned = outcomes.pruned if outcomes is not None else None
    out["seeds"] = list(range(len(seeds)))
    out["curve"] = [record["curve"][s] for s in seeds]
    out["outcomes"] = {
        **block,
        "parents": [block["parents"][s] for s in seeds],
        "parent": {name: [rows[s] for s in seeds] for name, rows in block["parent"].items()}
        if parent is None
        else {name: [pack(parent[name][s]) for s in seeds] for name in parent},
        "curve": {name: [rows[s] for s in seeds] for name, rows in block["curve"].items()}
        if pruned is None
        else {name: [[pack(p) for p in pruned[name][s]] for s in seeds] for name in pruned},
    }
    values = point_values(case_outcomes(out))
    for metric, value in values.items():
        if out["summary"].get(metric) is not None:
            out["summary"][metric] = {"mean": value, "std": 0.0}
    if out["summary"].get("gap") is not None and "shifted_pp_mean" in values:
        gap = values["nominal_pp"] - values["shifted_pp_mean"]
        out["summary"]["gap"] = {"mean": gap, "std": 0.0}
    return out


def inject(outcomes: Any, names: list[str], fraction: float, rng: np.random.Generator) -> Any:
    """``outcomes`` whose pruned nets also get ``fraction`` of the examples of ``names`` wrong."""
    pruned = dict(outcomes.pruned)
    shape = next(iter(pruned.values())).shape
    lost = rng.random((shape[0], 1, shape[2])) < fraction  # the same examples at every ratio
    for name in names:
        pruned[name] = pruned[name] & ~lost
    return type(outcomes)(**{**outcomes.__dict__, "pruned": pruned})


def board(records: list[dict[str, Any]]) -> dict[str, Any]:
    return make_leaderboard(records, environment={"device": "cpu"}, created="bench")


def fails(baseline: list[dict], current: list[dict], gate_sets: list) -> np.ndarray:
    """For each gate set: whether it fails (one comparison serves them all)."""
    comparison = compare(board(baseline), board(current))
    return np.array([bool(comparison.gate_failures(gates)) for gates in gate_sets])


def rates(hits: list[np.ndarray]) -> str:
    return " ".join(f"{100 * rate:5.0f}%" for rate in np.mean(hits, axis=0))


def relabelled(path: Path, method: str, arch: str) -> dict[str, Any]:
    """The one record of ``path`` for ``arch``, named ``method`` (a plugin's copy of it)."""
    (record,) = [r for r in load_leaderboard(path)["records"] if r["arch"] == arch]
    return {**record, "method": method}


def same_parents(records, chosen, where, args, gates, rng, injected_rows=True) -> None:
    """Trials on the baseline's own parents (the same machine class): paired gates."""
    pairs = list(dict.fromkeys(b for b, _ in chosen))
    print(f"\nsame parents (paired), {len(pairs)} seed pairs per row")
    hits = {}
    for fraction, kind in itertools.product(args.fractions if injected_rows else [], where):
        for target in records:
            found = []
            for b in pairs:
                injected = inject(case_outcomes(target), where[kind], fraction, rng)
                current = [subset(r, b, injected if r is target else None) for r in records]
                found.append(fails([subset(r, b) for r in records], current, gates))
            hits[(target["method"], kind, fraction)] = rates(found)
    for (method, kind, fraction), rate in hits.items():
        print(f"  unchanged code + injected {method:4} {kind:7} {100 * fraction:5.2f}%: "
              f"detected {rate}")  # fmt: skip
    for label, path in (("neutral change", args.paired), ("regressed pruner", args.regressed)):
        if path is None:
            continue
        arch = records[0]["arch"]
        twin = relabelled(path, args.method, arch)
        target = next(r for r in records if r["method"] == args.method)
        others = [r for r in records if r is not target]
        paired = [
            fails([subset(r, b) for r in records], [subset(twin, b), *[subset(r, b) for r in others]],
                  gates)
            for b in pairs
        ]  # fmt: skip
        unpaired = [
            fails([subset(r, b) for r in records], [subset(twin, c), *[subset(r, c) for r in others]],
                  gates)
            for b, c in chosen
        ]  # fmt: skip
        full = point_values(case_outcomes(twin))
        mine = point_values(case_outcomes(target))
        drops = ", ".join(f"{SHORT[m]} {100 * (mine[m] - full[m]):+.1f}" for m in METRICS)
        print(f"  {label} ({path.parent.name}: {twin['environment'].get('plugins') or ''}) "
              f"vs {args.method}, drop over all {len(target['seeds'])} seeds: {drops} points")  # fmt: skip
        print(f"    gate failed: same parents {rates(paired)} of {len(paired)}, "
              f"other parents {rates(unpaired)} of {len(unpaired)}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("leaderboard", type=Path)
    parser.add_argument(
        "--paired",
        type=Path,
        help="a leaderboard of a neutral change of --method on the same parents",
    )
    parser.add_argument(
        "--regressed", type=Path, help="a leaderboard of a regressed --method on the same parents"
    )
    parser.add_argument("--method", default="WT", help="the method the two stand in for")
    parser.add_argument(
        "--gates",
        action="append",
        help="a gate set instead of .ci/run's, e.g. 'prune_potential:5%% "
        "accuracy_change:1%%' (repeatable: one column each)",
    )
    parser.add_argument("--fractions", type=float, nargs="+",
                        default=[0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05])  # fmt: skip
    parser.add_argument("--trials", type=int, default=30, help="seed splits per cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--same-parents-only", action="store_true", help="skip the injected trials on other parents"
    )
    args = parser.parse_args(argv)

    sets = [text.split() for text in args.gates] if args.gates else [ci_gates()]
    gates = [[parse_gate(text) for text in texts] for texts in sets]
    records = [r for r in load_leaderboard(args.leaderboard)["records"] if r.get("outcomes")]
    if not records:
        sys.exit(f"{args.leaderboard}: no record has per-example outcomes")
    seeds = len(records[0]["seeds"])
    if seeds < 4:
        sys.exit(f"{args.leaderboard}: need >= 4 seeds for disjoint seed pairs, got {seeds}")
    rng = np.random.default_rng(args.seed)
    pairs = list(itertools.combinations(range(seeds), 2))
    splits = [(a, b) for a in pairs for b in pairs if not set(a) & set(b)]
    chosen = [splits[i] for i in rng.permutation(len(splits))[: args.trials]]
    full = {id(r): case_outcomes(r) for r in records}
    names = list(records[0]["distributions"])
    where = {"nominal": names[:1], "shifts": names[1:], "all": names}
    for index, texts in enumerate(sets):
        print(f"gate set {index + 1}: {' '.join('--rp-compare-fail ' + t for t in texts)}")
    print(f"cases: {', '.join(r['arch'] + '/' + r['method'] for r in records)}; {seeds} seeds; "
          f"{len(splits)} disjoint seed splits, {len(chosen)} per cell")  # fmt: skip
    started = time.perf_counter()

    alarms = [
        fails([subset(r, b) for r in records], [subset(r, c) for r in records], gates)
        for b, c in chosen
    ]
    print(f"\nneutral (other parents): false alarms per gate set {rates(alarms)} "
          f"of {len(chosen)}")  # fmt: skip

    rows = []
    for target, fraction, kind in itertools.product(
        records, [] if args.same_parents_only else args.fractions, where
    ):
        for b, c in chosen:
            base = [subset(r, b) for r in records]
            current_full = full[id(target)]
            injected = inject(current_full, where[kind], fraction, rng)
            current = [subset(r, c, injected if r is target else None) for r in records]
            clean = point_values(case_outcomes(subset(target, c)))
            hurt = point_values(case_outcomes(current[records.index(target)]))
            drop = {m: clean[m] - hurt[m] for m in METRICS if m in clean}
            rows.append((target["method"], kind, fraction, drop, fails(base, current, gates)))
    print(f"\ninjected regressions, {len(chosen)} trials per row "
          f"(realised drop: mean over trials, points; detected: the gate failed)")  # fmt: skip
    header = (
        f"{'method':6} {'where':8} {'flip':>6} "
        + " ".join(f"{SHORT[m]:>10}" for m in METRICS)
        + " detected per gate set"
    )
    print(header)
    for (method, kind, fraction), group in itertools.groupby(rows, key=lambda r: r[:3]):
        group = list(group)
        drops = " ".join(
            f"{100 * np.mean([g[3].get(m, np.nan) for g in group]):10.2f}" for m in METRICS
        )
        print(f"{method:6} {kind:8} {100 * fraction:5.2f}% {drops} {rates([g[4] for g in group])}")

    print("\ndetection by realised drop (all injected trials whose drop of METRIC lies in the bin)")
    for metric in METRICS if rows else ():
        edges = [0.0, 0.025, 0.05, 0.075, 0.10, 0.15, 0.25, 1.01] if "pp" in metric else [
            0.0, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 1.01]  # fmt: skip
        cells = []
        for low, high in itertools.pairwise(edges):
            hits = [r[4] for r in rows if low <= r[3].get(metric, -1) < high]
            if hits:
                cells.append(f"[{100 * low:g},{100 * high:g}): {rates(hits)} of {len(hits)}")
        print(f"  {metric}: " + "; ".join(cells))
        at_target = [r[4] for r in rows if r[3].get(metric, -1) >= TARGETS[metric]]
        if at_target:
            print(f"    drop >= {100 * TARGETS[metric]:g} points: detected {rates(at_target)} "
                  f"of {len(at_target)}")  # fmt: skip

    same_parents(records, chosen, where, args, gates, rng, not args.same_parents_only)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
