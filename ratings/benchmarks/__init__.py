"""Benchmark scores beside arena ranks: import, name resolution, comparison pages.

The comparison itself (ranks, vibes gap, flags, correlations, composite) is pure and lives
in ``ratings.engine.benchmarks``.
"""
