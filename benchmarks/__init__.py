"""Benchmarks: the paper-table harness, performance measurements and their results."""
