"""Layering the user can rely on: a Ray task loads the library, never the pytest plugin."""

from __future__ import annotations

import subprocess
import sys

RAY_TASK_IMPORTS = """
import sys

import robustprune.ray_tasks as tasks
import robustprune.harness  # what a task's run_unit imports to build a unit

tasks._registry({})  # every registry a task loads: built-ins and installed entry points
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"pytest", "_pytest", "pluggy"})
print(loaded)
"""


def test_a_ray_task_loads_every_registry_without_importing_pytest() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RAY_TASK_IMPORTS], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
