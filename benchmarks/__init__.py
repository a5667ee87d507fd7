"""Benchmark suite for gdlinalg: ``python benchmarks/run.py [--quick] [--out DIR]``."""
