"""Keep XLA:CPU's per-step buffers in memory that is already mapped (Linux, glibc).

XLA:CPU allocates each execution's temporary buffer (the activations a train step keeps for its
backward pass: 629 MB for ResNet-18 at batch 64) with `posix_memalign` on one of its worker
threads and frees it at the end. glibc serves allocations that large from a fresh `mmap` (worker
threads' arenas cannot hold them) and unmaps them on free, so every step faults in and zeroes
all of those pages again: 154 000 page faults and ~10% of a ResNet-18 step on a 2-core CPU.

`tune()` makes glibc serve every allocation from the main heap (one arena, no mmap) and keep up
to 2 GiB of freed memory at its top, so the next step reuses the same pages. It must run before
XLA's threads first allocate, i.e. before the first JAX computation in the process; jtorch calls
it on import. The cost: memory freed by the process stays mapped (up to that limit) instead of
going back to the system, and all threads share one malloc arena. Set `JTORCH_MALLOC_TUNING=0`
to leave glibc's defaults.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune"]

# mallopt parameters from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_KEEP_FREED_BYTES = 2**31 - 1  # the largest value mallopt's int accepts

_tuned = False


def tune() -> bool:
    """Apply the settings above once; True if they are in effect."""
    global _tuned
    if _tuned:
        return True
    if os.environ.get("JTORCH_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (glibc only; musl has no mallopt parameters)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _tuned = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_ARENA_MAX, 1),
            (_M_MMAP_MAX, 0),
            (_M_TRIM_THRESHOLD, _KEEP_FREED_BYTES),
        )
    )
    return _tuned
