"""Forward+backward time of max pooling: jtorch vs a plain `lax.reduce_window` vs torch eager.

Each step computes sum(max_pool2d(x) · r) and its gradient w.r.t. x. The jtorch and reduce_window
columns time a `jax.jit`-compiled `value_and_grad` (compilation excluded, results waited for); the
reduce_window column is the generic lowering (forward reduce-window, backward select_and_scatter)
that non-overlapping windows used before their elementwise path. torch times eager forward +
backward with `torch.set_num_threads(2)`. The three are timed in alternating rounds; the best
round of each is printed in milliseconds, with the ratio torch / jtorch (> 1: jtorch is faster).
Shapes: LeNet's two pools (batch 128) and a VGG-like first pool, all kernel 2 stride 2.

    JAX_PLATFORMS=cpu python benchmarks/bench_pooling.py [--rounds 30]

On a shared machine, run it under a lock (`flock LOCKFILE python ...`) so no other timing
runs overlap.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _timing import best_of  # noqa: E402
from jax import lax  # noqa: E402

import jtorch.nn.functional as F  # noqa: E402

SHAPES = [("LeNet pool 1", (128, 6, 28, 28)), ("LeNet pool 2", (128, 16, 10, 10)),
          ("VGG-like pool", (16, 64, 112, 112))]  # fmt: skip


def _reduce_window_pool(x: jax.Array) -> jax.Array:
    """2×2/2 max pooling as one reduce-window; JAX differentiates it with select_and_scatter."""
    return lax.reduce_window(
        x, np.array(-np.inf, x.dtype), lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID"
    )


def _jax_step(pool, x: np.ndarray, r: np.ndarray):
    step = jax.jit(jax.value_and_grad(lambda x, r: jnp.sum(pool(x) * r)))
    xj, rj = jnp.asarray(x), jnp.asarray(r)
    return lambda: jax.block_until_ready(step(xj, rj))


def _torch_step(x: np.ndarray, r: np.ndarray):
    xt, rt = torch.tensor(x, requires_grad=True), torch.tensor(r)

    def step():
        xt.grad = None
        loss = (torch.nn.functional.max_pool2d(xt, 2) * rt).sum()
        loss.backward()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    print(f"{'shape':<32}{'jtorch':>10}{'reduce_win':>12}{'torch':>10}{'torch/jtorch':>14}")
    for name, shape in SHAPES:
        x = np.maximum(rng.standard_normal(shape, dtype=np.float32), 0)  # post-ReLU: many ties
        r = rng.standard_normal((*shape[:2], shape[2] // 2, shape[3] // 2), dtype=np.float32)
        fns = [_jax_step(lambda x: F.max_pool2d(x, 2), x, r),
               _jax_step(_reduce_window_pool, x, r), _torch_step(x, r)]  # fmt: skip
        best = best_of(dict(enumerate(fns)), args.rounds, warmup=3)
        ours, generic, ref = (1000 * best[i] for i in range(3))
        label = f"{name} {shape}"
        print(f"{label:<32}{ours:>10.3f}{generic:>12.3f}{ref:>10.3f}{ref / ours:>14.2f}")


if __name__ == "__main__":
    main()
