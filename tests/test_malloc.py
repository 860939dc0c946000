"""jtorch._malloc: XLA:CPU's per-execution temporary buffers reuse mapped memory when the tuning
is on, and fault in fresh pages on every call with glibc's defaults. (With the tuning, some calls
still get their buffers on fresh pages, up to 9 of 20 in a row of runs here, so the test looks at
the best of twenty calls; with the defaults every one of them faults.)"""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")

# A program with ~50 MB of temporaries (two cumulative sums of a 16.8 MB array, which do not
# fuse) allocated on an XLA worker thread: glibc mmaps that afresh on every call by default.
PROBE = textwrap.dedent(
    """
    import resource
    import jtorch, jax, jax.numpy as jnp
    from jtorch import _malloc
    x = jnp.ones((4_194_304,))
    f = jax.jit(lambda x: jnp.cumsum(x * 2)[-1] + jnp.cumsum(x * 3)[-1])
    f(x).block_until_ready()
    faults = []
    for _ in range(20):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        f(x).block_until_ready()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(_malloc.tune(), min(faults))
    """
)


def _probe(tuning: str) -> tuple[bool, float]:
    env = {"JTORCH_MALLOC_TUNING": tuning, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[-2] == "True", float(out[-1])


def test_temporary_buffers_stay_mapped_between_calls():
    tuned, faults = _probe("1")
    default, default_faults = _probe("0")
    assert tuned and not default
    pages = 4_194_304 * 4 / 4096  # one 16.8 MB array
    assert default_faults > pages  # glibc's default: even the best call maps fresh pages
    assert faults < pages / 20  # tuned: calls reuse the pages of earlier ones
