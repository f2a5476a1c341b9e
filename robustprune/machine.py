"""The machine class: what decides the floating-point results of training on one machine.

Training is bit-for-bit repeatable on one machine class, not across classes: another CPU
instruction-set family (AVX2 against AVX-512), CPU vendor, GPU model or torch version rounds
differently, and retraining amplifies the difference into other networks and other prune
potentials. Parent and prune-step keys therefore include the machine class, so a store shared
between machines (a lab cache, a Ray cluster) never serves one class's networks to another.

``ROBUSTPRUNE_MACHINE_CLASS=<label>`` is the explicit way to share: every machine that sets the
same label uses the same keys (and records say the class was declared, next to what was
detected). Use it only for machines whose results you have checked to agree, or when sharing
matters more than the numbers being bit-identical.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Any

ENVIRONMENT_VARIABLE = "ROBUSTPRUNE_MACHINE_CLASS"
_MAX_LABEL = 100
KERNEL_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
)
"""Environment variables that make torch pick other CPU kernels (and so other numbers) on the
same machine; those that are set are part of the machine class."""


@functools.cache
def _cpu_facts() -> tuple[str, str]:
    """``(vendor, instruction-set family)`` from /proc/cpuinfo (Linux), else platform facts."""
    vendor, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "vendor_id" and not vendor:
                vendor = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
            if vendor and flags:
                break
    except OSError:
        pass
    if "avx512f" in flags:
        family = "avx512"
    elif "avx2" in flags:
        family = "avx2"
    elif "avx" in flags:
        family = "avx"
    elif "sse4_2" in flags:
        family = "sse4.2"
    elif flags & {"asimd", "neon"}:
        family = "neon"
    else:
        family = platform.machine() or "unknown"
    return vendor or platform.processor() or platform.machine() or "unknown", family


def _declared() -> str | None:
    label = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not label:
        return None
    if len(label) > _MAX_LABEL or not label.isprintable():
        raise ValueError(
            f"{ENVIRONMENT_VARIABLE}={label[:40]!r}: a machine class label must be printable "
            f"text of at most {_MAX_LABEL} characters (e.g. 'lab-avx2-pool')"
        )
    return label


def detected_machine_class(device: Any = "cpu") -> dict[str, Any]:
    """The machine class of ``device`` on this machine, as detected.

    CPU: ``device``, torch's CPU capability (the kernels ATen dispatches to, e.g. ``AVX2``,
    ``AVX512``), the instruction-set family from the CPU flags, the vendor and torch's version.
    CUDA: ``device``, the GPU model, CUDA and torch versions.
    """
    import torch

    device = torch.device(device)
    info: dict[str, Any] = {"device": device.type, "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    elif device.type == "cpu":
        vendor, family = _cpu_facts()
        get_capability = getattr(torch.backends.cpu, "get_cpu_capability", None)
        info["isa"] = family
        info["capability"] = get_capability() if get_capability is not None else None
        info["vendor"] = vendor
        forced = {name: os.environ[name] for name in KERNEL_VARIABLES if os.environ.get(name)}
        if forced:
            info["kernels"] = forced
    else:
        info["platform"] = platform.platform()
    info["label"] = machine_label(info)
    return info


def machine_label(info: dict[str, Any]) -> str:
    """``cpu avx2 GenuineIntel, torch 2.5.1`` or ``cuda NVIDIA H100, CUDA 12.4, torch 2.5.1``."""
    if info.get("declared"):
        return str(info["declared"])
    if info.get("device") == "cuda":
        return f"cuda {info.get('gpu')}, CUDA {info.get('cuda')}, torch {info.get('torch')}"
    if info.get("device") == "cpu":
        return f"cpu {info.get('isa')} {info.get('vendor')}, torch {info.get('torch')}"
    return f"{info.get('device')} {info.get('platform')}, torch {info.get('torch')}"


def machine_class(device: Any = "cpu") -> dict[str, Any]:
    """The machine class a record carries: what was detected, plus ``declared`` (and a label
    of that name) when ``ROBUSTPRUNE_MACHINE_CLASS`` is set."""
    info = detected_machine_class(device)
    declared = _declared()
    if declared is not None:
        info = {**info, "declared": declared, "detected": info["label"], "label": declared}
    return info


def machine_key(device: Any = "cpu") -> dict[str, Any]:
    """The part of parent and prune-step keys that names the machine class: the detected class,
    or only the declared label when ``ROBUSTPRUNE_MACHINE_CLASS`` is set; with the process's
    torch thread count either way (it changes how sums are split, so the numbers)."""
    import torch

    declared = _declared()
    if declared is not None:
        return {"declared": declared, "threads": torch.get_num_threads()}
    info = detected_machine_class(device)
    return {**{k: v for k, v in info.items() if k != "label"}, "threads": torch.get_num_threads()}


def class_of(environment: dict[str, Any] | None) -> str | None:
    """The machine class label a record's or leaderboard's ``environment`` carries, or None
    (written before robustprune recorded machine classes)."""
    machine = (environment or {}).get("machine_class")
    if isinstance(machine, dict):
        return machine.get("label")
    return machine if isinstance(machine, str) else None


def machine_class_note(baseline: dict[str, Any], current: dict[str, Any]) -> str | None:
    """A note when two leaderboards' machine classes differ (or the baseline's is unknown),
    saying what that means for the comparison; None when they match."""
    before, after = _classes(baseline), _classes(current)
    if not after or before == after:
        return None
    meaning = (
        "training is bit-for-bit repeatable only within a machine class: another CPU "
        "instruction-set family, vendor, GPU model or torch version rounds differently and "
        "retraining amplifies it, so differences here mix machine noise with code changes; "
        "only cases whose parents match (same parent digests) compare pairwise; gate against a "
        "baseline written on this machine class for a like-for-like check"
    )
    if not before:
        return (
            f"note: the baseline does not record its machine class (written before robustprune "
            f"recorded it; its CPU: {(baseline.get('environment') or {}).get('cpu', 'unknown')}); "
            f"this run: {', '.join(after)}. If they differ, {meaning}"
        )
    return (
        f"note: the baseline ran on machine class {' + '.join(before)}, this run on "
        f"{' + '.join(after)}: {meaning}"
    )


def _classes(leaderboard: dict[str, Any]) -> list[str]:
    labels = {class_of(record.get("environment")) for record in leaderboard.get("records", [])}
    labels.add(class_of(leaderboard.get("environment")))
    return sorted(label for label in labels if label)
