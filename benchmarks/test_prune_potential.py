"""The installed package's benchmark test, collected here for ``pytest benchmarks/``."""

from robustprune.benchmarks.test_prune_potential import test_prune_potential

__all__ = ["test_prune_potential"]
