"""BatchNorm statistics and gradients are the same bits on every run and with any thread count.

With 32 channels on the CPU, BatchNorm's sums go to the C++ channel reductions
(csrc/channel_stats.cc), which run on OpenMP threads; their partial sums must be added in a
fixed order, not in the order threads finish. Each subprocess runs the same compiled training
step 20 times and checks the bits agree; the subprocesses use 1, 2 and 3 OpenMP threads and
their bits must agree too (a per-thread split would give each thread count its own rounding).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

_STEP = r"""
import sys
import numpy as np
import jax, jax.numpy as jnp
import jtorch
from jtorch import nn
from jtorch._backend import enabled, layout

if not (enabled() and layout.activations_channels_last(32)):
    print("no-in-place-sums")
    sys.exit(0)

jtorch.manual_seed(0)
model = nn.BatchNorm2d(32)
rng = np.random.default_rng(0)
# mean far from zero and many rows: rounding differs visibly between summation orders
x = jnp.asarray(rng.normal(300.0, 2.0, (64, 32, 12, 12)), jnp.float32)

@jtorch.jit
def step(model, x):
    loss, grads = jtorch.value_and_grad(lambda m: (m(x) ** 2 * x).mean())(model)
    return loss, grads

bits = []
for _ in range(20):
    loss, grads = step(model, x)
    arrays = [loss, model.running_mean.value, model.running_var.value, *grads.values()]
    bits.append(np.concatenate([np.asarray(a, np.float32).reshape(-1).view(np.uint32)
                                for a in arrays]))
    model.running_mean.value = jnp.zeros(32)   # the same step each run
    model.running_var.value = jnp.ones(32)
assert all((b == bits[0]).all() for b in bits), "runs of one process differ"
np.save(sys.argv[1], bits[0])
print("ok")
"""


def _run(threads: int, out: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, "-c", _STEP, out], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_batchnorm_step_bits_do_not_depend_on_runs_or_threads(tmp_path):
    results = {}
    for threads in (1, 2, 3):
        out = str(tmp_path / f"bits{threads}.npy")
        if _run(threads, out) == "no-in-place-sums":
            pytest.skip("the oneDNN extension (and its C++ channel sums) is not built here")
        results[threads] = np.load(out)
    assert (results[1] == results[2]).all(), "1 and 2 threads give different bits"
    assert (results[1] == results[3]).all(), "1 and 3 threads give different bits"
