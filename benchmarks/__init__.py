"""Scripts that measure the system; their results are recorded in docs/benchmarks.md."""
