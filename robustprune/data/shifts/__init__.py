"""Distribution shifts: CIFAR-10-C's 19 corruptions as batched torch ops, the uniform noise ball,
dataset shifts (CIFAR-10.1), robust-training mixes, and shifted test sets (loaded or generated,
cached). Names: ``corruption:<name>:<severity>``, ``noise:uniform:<eps>``, ``cifar10_1``.
"""

from __future__ import annotations

from robustprune.data.shifts import blur, digital, noise, spatter, weather  # noqa: F401  (registers)
from robustprune.data.shifts.dataset import GENERATOR_VERSION, shifted_test_set
from robustprune.data.shifts.degenerate import (
    DegenerateShiftError,
    check_dataset_shifts,
    check_shifts,
    distinct_settings,
)
from robustprune.data.shifts.mix import (
    MIX1_TEST_CORRUPTIONS,
    MIX1_TRAIN_CORRUPTIONS,
    mix1_assignment,
    mix1_splits,
    mix1_training_set,
)
from robustprune.data.shifts.noise import add_uniform_noise, noise_ball, noise_ball_eps
from robustprune.data.shifts.registry import (
    SEVERITIES,
    Corruption,
    CorruptionContext,
    Shift,
    corrupt,
    corruptions_for,
    get_corruption,
    get_shift,
    list_corruptions,
    list_shifts,
    register_corruption,
    register_shift,
)

__all__ = [
    "GENERATOR_VERSION",
    "MIX1_TEST_CORRUPTIONS",
    "MIX1_TRAIN_CORRUPTIONS",
    "SEVERITIES",
    "Corruption",
    "CorruptionContext",
    "DegenerateShiftError",
    "Shift",
    "add_uniform_noise",
    "check_dataset_shifts",
    "check_shifts",
    "corrupt",
    "corruptions_for",
    "distinct_settings",
    "get_corruption",
    "get_shift",
    "list_corruptions",
    "list_shifts",
    "mix1_assignment",
    "mix1_splits",
    "mix1_training_set",
    "noise_ball",
    "noise_ball_eps",
    "register_corruption",
    "register_shift",
    "shifted_test_set",
]
