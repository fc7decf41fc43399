"""Benchmarks of drf_autoprefetch against a hand-written plan, Django's fetch modes and peers.

``python -m benchmarks --help`` (or ``make bench``) runs them; ``docs/benchmarks.md``
explains the method.
"""
