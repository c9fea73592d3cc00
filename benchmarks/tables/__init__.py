"""The paper-table harness (``python -m benchmarks.reproduce``): a module per job, per data set."""
