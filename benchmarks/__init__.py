"""Benchmarks: scripts that print figures (make bench-copy); not tests."""
