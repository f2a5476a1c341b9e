"""Facts about the evaluated distributions that every layer shares: the name of the unshifted
test set, the corruption severities, the noise-ball radii, the float slack when errors on a
distribution are compared, and how a distribution's name is shown.

This module imports nothing, so the harness, records, reports, leaderboards, metrics and the
data loaders can all import it without pulling in torch or creating an import cycle.
"""

from __future__ import annotations

NOMINAL = "nominal"
"""The unshifted test set's distribution name: the key of its results in every record."""

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
"""Corruption severities, as in CIFAR-10-C and ImageNet-C: one parameter per severity."""

ERROR_TOLERANCE = 1e-9
"""Float slack in "error <= parent error + delta": errors are 1 - accuracy computed from
counts, so this absorbs round-off such as 0.105 <= 0.1 + 0.005 without changing any real
decision."""

NOISE_BALL_MAX_EPS = 0.7
"""Largest noise-ball radius (half-width of the uniform noise, in normalized units)."""
NOISE_BALL_STEPS = 15
"""Number of noise-ball radii, from 0 to NOISE_BALL_MAX_EPS inclusive."""
NOISE_BALL_EPS: tuple[float, ...] = (
    *(i * (NOISE_BALL_MAX_EPS / (NOISE_BALL_STEPS - 1)) for i in range(NOISE_BALL_STEPS - 1)),
    NOISE_BALL_MAX_EPS,
)
"""The paper's noise-ball radii: linspace(0, 0.7, 15), bit for bit as ``numpy.linspace``
computes it (i · (0.7 / 14), the last exactly 0.7); records store these values."""


# -- how a distribution's name is shown ----------------------------------------------------


def distribution_label(name: str) -> str:
    """A title: 'corruption:fog:3' -> 'fog (severity 3)', 'noise:uniform:0.1' -> 'uniform noise
    ε=0.1'; any other name as it is."""
    parts = name.split(":")
    if len(parts) == 3 and parts[0] == "corruption":
        return f"{parts[1]} (severity {parts[2]})"
    if len(parts) == 3 and parts[0] == "noise":
        return f"{parts[1]} noise ε={parts[2]}"
    return name


def tick_label(name: str) -> str:
    """A figure's tick label: 'corruption:fog:3' -> 'fog 3', 'noise:uniform:0.1' -> 'noise
    ε=0.1'; any other name as it is."""
    parts = name.split(":")
    if len(parts) == 3 and parts[0] == "corruption":
        return f"{parts[1].replace('_', ' ')} {parts[2]}"
    if len(parts) == 3 and parts[0] == "noise":
        return f"noise ε={parts[2]}"
    return name


def short_distribution(name: str) -> str:
    """A table's column or list entry: ``corruption:fog:3`` -> ``fog:3``, ``noise:uniform:0.3``
    -> ``uniform:0.3`` (the family goes); any name with fewer parts as it is."""
    return name.split(":", 1)[1] if name.count(":") >= 2 else name
