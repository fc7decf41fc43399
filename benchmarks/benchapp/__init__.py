"""Models that exist only for the benchmarks: a deep tree and a wide table."""
