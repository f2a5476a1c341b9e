"""Per-example outcomes in records: which test examples each parent and pruned network got right.

A record's ``outcomes`` block (docs/records.md) keeps, per distribution and seed, the parent's
and every curve point's top-1 correctness as bits (``numpy.packbits``, little bit order) in
base64 — 449 examples take 76 characters — so two runs can be compared example by example and
any interval recomputed later. ``parents`` holds one digest per seed that identifies the parent
network (the harness's weight fingerprint when it gives one, else a digest of the parent's
outcomes and losses on every distribution); equal digests mean shared parents and a paired gate.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from robustprune.distributions import NOMINAL
from robustprune.leaderboard.resample import CaseOutcomes

ENCODING = "packbits-little-base64"


def pack(correct: Sequence[bool] | np.ndarray) -> str:
    """Bits of a per-example correctness vector as base64 text."""
    bits = np.packbits(np.asarray(correct, dtype=bool), bitorder="little")
    return base64.b64encode(bits.tobytes()).decode("ascii")


def unpack(text: str, size: int) -> np.ndarray:
    """The ``size`` booleans that :func:`pack` wrote into ``text``."""
    raw = np.frombuffer(base64.b64decode(text.encode("ascii"), validate=True), dtype=np.uint8)
    bits = np.unpackbits(raw, bitorder="little")
    if bits.size < size or bits.size - size >= 8:
        raise ValueError(f"outcome bits hold {raw.size} bytes, not {size} examples")
    return bits[:size].astype(bool)


def parent_digest(
    outcomes: Mapping[str, np.ndarray], accuracy: Mapping[str, float], loss: Mapping[str, float]
) -> str:
    """A digest of one parent's behaviour: its outcomes and its exact accuracy and loss on every
    distribution. Two different networks agree on all of it only by accident."""
    digest = hashlib.sha256()
    for name in sorted(outcomes):
        digest.update(name.encode())
        digest.update(pack(outcomes[name]).encode())
        digest.update(json.dumps([float(accuracy[name]), float(loss[name])]).encode())
    return digest.hexdigest()[:32]


def outcomes_block(
    parent: Mapping[str, Sequence[np.ndarray]],
    pruned: Mapping[str, Sequence[Sequence[np.ndarray]]],
    parents: Sequence[str],
) -> dict[str, Any]:
    """A record's ``outcomes``: ``parent[d][seed]`` and ``pruned[d][seed][point]`` correctness."""
    block = {
        "encoding": ENCODING,
        "examples": {name: int(len(rows[0])) for name, rows in parent.items()},
        "parents": list(parents),
        "parent": {name: [pack(row) for row in rows] for name, rows in parent.items()},
        "curve": {
            name: [[pack(point) for point in seed] for seed in seeds]
            for name, seeds in pruned.items()
        },
    }
    block["digest"] = hashlib.sha256(json.dumps(block, sort_keys=True).encode()).hexdigest()[:32]
    return block


def case_outcomes(record: dict[str, Any]) -> CaseOutcomes | None:
    """A record's outcomes as arrays, or None when it has none (records made before outcomes
    existed, or segmentation)."""
    block = record.get("outcomes")
    if not block:
        return None
    if block.get("encoding") != ENCODING:
        raise ValueError(
            f"outcomes encoding {block.get('encoding')!r} is not {ENCODING!r}; "
            "this robustprune cannot read it"
        )
    sizes = block["examples"]
    parent = {
        name: np.stack([unpack(text, sizes[name]) for text in rows])
        for name, rows in block["parent"].items()
    }
    pruned = {
        name: np.stack([np.stack([unpack(t, sizes[name]) for t in seed]) for seed in seeds])
        for name, seeds in block["curve"].items()
    }
    ratios = np.array(
        [[point["prune_ratio"] for point in seed] for seed in record["curve"]], dtype=float
    )
    degenerate = record.get("degenerate") or {}
    shifts = tuple(
        name for name in record["distributions"] if name != NOMINAL and name not in degenerate
    )
    return CaseOutcomes(
        ratios=ratios,
        parent=parent,
        pruned=pruned,
        delta=float(record["delta"]),
        nominal=NOMINAL,
        summary_shifts=shifts,
        parent_digests=tuple(block.get("parents") or ()),
    )
