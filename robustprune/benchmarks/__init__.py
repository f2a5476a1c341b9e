"""The benchmark itself, shipped with the package: ``pytest --pyargs robustprune.benchmarks``."""
