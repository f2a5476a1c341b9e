"""The case machinery of the robustprune plugin, for ``pytest benchmarks/`` in this repository."""

from robustprune.plugin.cases import *  # noqa: F403  (hooks and fixtures, see its __all__)
