"""Timing helper shared by the benchmark scripts."""

import time


def best_of(fn, repeats: int) -> float:
    """The shortest wall time (seconds) of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
