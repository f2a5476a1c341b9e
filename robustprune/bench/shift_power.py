"""Statistical power of a suite, re-evaluated post hoc from the artifact store (no retraining).

Reads every case of a suite from an artifact store that a benchmark run has filled (a warm run:
parents, prune steps and per-example evaluations are loaded, nothing is trained), then prints,
for each delta asked for, each case's nominal and shifted prune potential (PP) and the gap
(nominal PP - mean shifted PP), each with a 95 % percentile bootstrap interval:

- ``examples``: test examples resampled with replacement, the same indices for every seed and
  every distribution (the shifted test sets are the nominal images, corrupted, in the same
  order), so the interval reflects the finite test set;
- ``examples+seeds`` (``--seed-bootstrap``): each resample also draws the seeds with
  replacement, so differences between independently trained parents count too.

``--ratios`` keeps only some grid points (prune ratios as in the suite, e.g. every other one)
to see what a coarser grid would have resolved; ``--drop`` leaves shifts out. A shift whose
parent is not clearly above chance (the lower end of a 95 % Wilson interval of the parent's
accuracy, pooled over seeds, below 1.5 x chance) is flagged ``~`` and left out of the shifted
mean with ``--skip-degenerate``.

    ROBUSTPRUNE_CACHE=/tmp/cache pytest benchmarks/ -n 4                 # fill the store
    robustprune bench shift-power --cache /tmp/cache --delta 0.005 0.01 0.02
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from robustprune.cache import ArtifactStore
from robustprune.distributions import ERROR_TOLERANCE, NOMINAL
from robustprune.harness import CaseRunner
from robustprune.pruning import default_registry
from robustprune.suite import load_suite


def wilson_low(successes: float, total: int, z: float = 1.96) -> float:
    """Lower end of the Wilson score interval of a binomial proportion."""
    if total == 0:
        return 0.0
    p = successes / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (centre - spread) / (1 + z * z / total)


def case_arrays(result, keep_ratios=None):
    """(ratios (S, R), correct (S, D, R+1, N) with the parent at index 0, distribution names)."""
    names = list(result.seeds[0].parent_eval)
    ratios, correct = [], []
    for seed in result.seeds:
        rows = [
            row
            for row in seed.points
            if keep_ratios is None
            or any(math.isclose(row.target_ratio, r, abs_tol=1e-6) for r in keep_ratios)
        ]
        ratios.append([row.prune_ratio for row in rows])
        per_distribution = []
        for name in names:
            stack = [seed.parent_eval[name].correct.numpy()]
            stack += [row.evaluation[name].correct.numpy() for row in rows]
            per_distribution.append(np.stack(stack).astype(bool))
        correct.append(np.stack(per_distribution))
    return np.asarray(ratios), np.stack(correct), names


def potentials(ratios: np.ndarray, errors: np.ndarray, delta: float) -> np.ndarray:
    """PP from errors (..., S, D, R+1) (parent first) and ratios (S, R): shape (..., S, D)."""
    qualifies = errors[..., 1:] <= errors[..., :1] + delta + ERROR_TOLERANCE
    candidates = np.where(qualifies, ratios[:, None, :], 0.0)
    return candidates.max(axis=-1, initial=0.0)


def summarize(pp: np.ndarray, shifted: list[int]) -> dict[str, np.ndarray]:
    """Seed means of nominal PP, shifted mean PP and the gap from PP (..., S, D)."""
    nominal = pp[..., 0]
    shifted_mean = pp[..., shifted].mean(axis=-1)
    return {
        "nominal": nominal.mean(axis=-1),
        "shifted": shifted_mean.mean(axis=-1),
        "gap": (nominal - shifted_mean).mean(axis=-1),
    }


def analyse(
    result, classes, deltas, keep_ratios, drop, skip_degenerate, resamples, seed_bootstrap, rng
):
    ratios, correct, names = case_arrays(result, keep_ratios)
    seeds, distributions, _, examples = correct.shape
    parent_accuracy = correct[:, :, 0, :].mean(axis=(0, 2))  # (D,)
    chance = 1 / classes
    degenerate = [
        wilson_low(parent_accuracy[d] * seeds * examples, seeds * examples) <= chance + max(deltas)
        for d in range(distributions)
    ]
    shifted = [
        d
        for d, name in enumerate(names)
        if name != NOMINAL and name not in drop and not (skip_degenerate and degenerate[d])
    ]
    accuracy = correct.mean(axis=-1)  # (S, D, R+1)
    flat = correct.reshape(-1, examples).astype(np.float64)
    counts = rng.multinomial(examples, np.full(examples, 1 / examples), size=resamples)
    boot_accuracy = (counts @ flat.T / examples).reshape(resamples, seeds, distributions, -1)
    if seed_bootstrap and seeds > 1:
        pick = rng.integers(0, seeds, size=(resamples, seeds))
        boot_accuracy = np.take_along_axis(boot_accuracy, pick[:, :, None, None], axis=1)
        boot_ratios = ratios[pick]  # (B, S, R)
    else:
        boot_ratios = None
    # how much each shift costs the parent (nominal - shifted accuracy), paired, with its interval
    boot_drop = (boot_accuracy[:, :, :1, 0] - boot_accuracy[:, :, :, 0]).mean(axis=1)  # (B, D)
    parent_drop = {
        name: [
            float(parent_accuracy[0] - parent_accuracy[d]),
            float(np.percentile(boot_drop[:, d], 2.5, method="lower")),
            float(np.percentile(boot_drop[:, d], 97.5, method="higher")),
        ]
        for d, name in enumerate(names)
        if name != NOMINAL
    }
    out = {}
    for delta in deltas:
        point = {
            k: float(v)
            for k, v in summarize(potentials(ratios, 1 - accuracy, delta), shifted).items()
        }
        if boot_ratios is None:
            boot_pp = potentials(ratios, 1 - boot_accuracy, delta)
        else:
            qualifies = (
                1 - boot_accuracy[..., 1:] <= 1 - boot_accuracy[..., :1] + delta + ERROR_TOLERANCE
            )
            boot_pp = np.where(qualifies, boot_ratios[:, :, None, :], 0.0).max(axis=-1, initial=0.0)
        boot = summarize(boot_pp, shifted)
        intervals = {
            key: [
                float(np.percentile(values, 2.5, method="lower")),
                float(np.percentile(values, 97.5, method="higher")),
            ]
            for key, values in boot.items()
        }
        per_seed = potentials(ratios, 1 - accuracy, delta)  # (S, D)
        out[delta] = {
            **point,
            "intervals": intervals,
            "nominal_per_seed": per_seed[:, 0].tolist(),
            "shifted_per_seed": per_seed[:, shifted].mean(axis=-1).tolist(),
        }
    return {
        "arch": result.case.arch,
        "method": result.case.method,
        "structured": result.structured,
        "ratios": ratios.mean(axis=0).round(4).tolist(),
        "parent_accuracy": dict(zip(names, parent_accuracy.round(4).tolist(), strict=True)),
        "degenerate": [names[d] for d in range(distributions) if degenerate[d]],
        "parent_drop": parent_drop,
        "shifted": [names[d] for d in shifted],
        "deltas": out,
    }


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="digits", help="suite name or TOML path")
    parser.add_argument("--cache", required=True, help="artifact store a run of the suite filled")
    parser.add_argument("--archs", nargs="*", default=None)
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--delta", nargs="*", type=float, default=None, help="default: the suite's")
    parser.add_argument("--ratios", nargs="*", type=float, default=None, help="grid subset")
    parser.add_argument("--drop", nargs="*", default=[], help="shifts left out of the shifted mean")
    parser.add_argument("--skip-degenerate", action="store_true")
    parser.add_argument("--seed-bootstrap", action="store_true", help="resample seeds too")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    suite = load_suite(args.suite)
    deltas = args.delta or [suite.delta]
    registry = default_registry()
    runner = CaseRunner(suite, ArtifactStore(args.cache), "cpu", registry=registry)
    rng = np.random.default_rng(0)
    results = []
    for case in suite.cases(registry.names()):
        if args.archs and case.arch not in args.archs:
            continue
        if args.methods and case.method not in args.methods:
            continue
        try:
            result = runner.run(case)
        except Exception as error:  # a case that fails in the benchmark fails here too
            print(f"{case.id}: skipped, {type(error).__name__}: {error}")
            continue
        results.append(
            analyse(
                result,
                runner.data.num_classes,
                deltas,
                args.ratios,
                set(args.drop),
                args.skip_degenerate,
                args.resamples,
                args.seed_bootstrap,
                rng,
            )
        )
    kind = "examples+seeds" if args.seed_bootstrap else "examples"
    for delta in deltas:
        print(f"\ndelta = {delta:g} ({delta * 449:.1f} of 449 images); 95 % bootstrap over {kind}")
        print(
            f"{'case':28s} {'nominal PP':>22s} {'shifted mean PP':>22s} {'gap':>24s}  seeds nominal"
        )
        for r in results:
            d = r["deltas"][delta]
            cells = [
                f"{d[k]:.3f} [{d['intervals'][k][0]:.3f}, {d['intervals'][k][1]:.3f}]"
                for k in ("nominal", "shifted", "gap")
            ]
            mark = "*" if d["intervals"]["gap"][0] > 0 else " "
            seeds = " ".join(f"{v:.2f}" for v in d["nominal_per_seed"])
            print(
                f"{r['arch'] + '/' + r['method']:28s} {cells[0]:>22s} {cells[1]:>22s} {cells[2]:>23s}{mark}  {seeds}"
            )
        for method in ("WT", "SiPP"):
            rows = [r for r in results if r["method"] == method]
            if rows:
                hits = sum(r["deltas"][delta]["intervals"]["gap"][0] > 0 for r in rows)
                print(f"  {method}: gap interval above 0 on {hits} of {len(rows)} networks")
    if results:
        archs = list(dict.fromkeys(r["arch"] for r in results))
        first = {arch: next(r for r in results if r["arch"] == arch) for arch in archs}
        print(
            "\nparent accuracy lost to each shift, nominal - shifted, mean over seeds [95 % interval];"
            "\n! = the interval includes 0 (the parent does not notice the shift), "
            "~ = parent not clearly above chance + delta"
        )
        print(f"{'shift':36s}" + "".join(f"{arch:>24s}" for arch in archs))
        for name in first[archs[0]]["parent_drop"]:
            cells = []
            for arch in archs:
                drop, low, high = first[arch]["parent_drop"][name]
                mark = "~" if name in first[arch]["degenerate"] else "!" if low <= 0 else " "
                cells.append(f"{drop:+.3f} [{low:+.3f}, {high:+.3f}]{mark}")
            print(f"{name:36s}" + "".join(f"{cell:>24s}" for cell in cells))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
