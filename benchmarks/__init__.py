"""Benchmarks: scripts run by hand (`python -m benchmarks.<name>`), not collected by pytest."""
