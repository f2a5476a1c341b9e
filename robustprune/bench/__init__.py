"""Benchmark scripts that ship with the package, run as ``robustprune bench NAME [ARGS]``.

Each module here has a ``main(argv, prog)`` and runs as ``python -m robustprune.bench.<module>``
too; the scripts in a checkout's ``benchmarks/`` that measure the project itself stay there.
"""

from __future__ import annotations

BENCHES = {
    "epoch-times": "robustprune.bench.epoch_times",
    "shift-power": "robustprune.bench.shift_power",
    "claims": "robustprune.bench.claims",
}
"""``robustprune bench`` name -> module with ``main(argv, prog)``."""
