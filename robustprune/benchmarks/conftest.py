"""The case machinery of the robustprune plugin, for the tests in this package."""

from robustprune.plugin.cases import *  # noqa: F403  (hooks and fixtures, see its __all__)
