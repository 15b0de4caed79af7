"""Benchmarks of tfrs-adcg: quality and speed, written to benchmarks/results."""
