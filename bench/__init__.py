"""Benchmarks (not part of `make test`): results are recorded in docs/benchmarks.md."""
