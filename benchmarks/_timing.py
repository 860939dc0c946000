"""Timing shared by the benchmark scripts: alternating rounds, best round kept.

Machines these run on are shared and noisy, so every contender is timed once per round, the
rounds interleave the contenders, and the best round of each is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax


def best_of(
    fns: dict[str, Callable[[], object]], rounds: int, calls: int = 1, warmup: int = 1
) -> dict[str, float]:
    """Best-of-`rounds` seconds per call of each function.

    A round makes `calls` calls of one function and waits for the last call's result
    (jax.block_until_ready), so asynchronous dispatch is timed to completion.
    """
    for fn in fns.values():
        for _ in range(warmup):  # compile / warm caches
            jax.block_until_ready(fn())
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            out = None
            start = time.perf_counter()
            for _ in range(calls):
                out = fn()
            jax.block_until_ready(out)
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return best
