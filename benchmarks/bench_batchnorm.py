"""Training-mode BatchNorm2d + ReLU, forward and backward, against PyTorch (2 threads).

Contenders, on ResNet-18's largest activation (64, 64, 32, 32) by default:
- autodiff: JAX's autodiff of the textbook two-pass formula (what jtorch did before its
  hand-written backward);
- jtorch plain: `F.batch_norm` with `JTORCH_ONEDNN_LAYOUT=plain` (hand-written backward, XLA's
  reductions);
- jtorch in place: `F.batch_norm` by default on the CPU (C++ channel sums on channels-last data;
  isolated here, so XLA also copies the input into channels-last and the gradient back);
- torch: `nn.BatchNorm2d` + ReLU eager.
Best of alternating rounds; the ratio is torch time / contender time.

Run: python benchmarks/bench_batchnorm.py [--shape 64,64,32,32] [--rounds 10]
"""

from __future__ import annotations

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_of

import jtorch.nn.functional as F


def _formula(x, w, b):
    mean = jnp.mean(x, axis=(0, 2, 3), keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=(0, 2, 3), keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + 1e-5) * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="64,64,32,32")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))

    import torch

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    w, b = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    jargs = [jnp.asarray(a) for a in (x, w, b, g)]
    bn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731

    contenders = {}
    for name, norm, layout in (
        ("autodiff", _formula, "plain"),
        ("jtorch plain", bn, "plain"),
        ("jtorch in place", bn, "auto"),
    ):
        fn = jax.jit(jax.grad(lambda x, w, b, g, n=norm: jnp.sum(jax.nn.relu(n(x, w, b)) * g),
                              argnums=(0, 1, 2)))  # fmt: skip
        os.environ["JTORCH_ONEDNN_LAYOUT"] = layout  # read while tracing, on the first call
        jax.block_until_ready(fn(*jargs))
        contenders[name] = lambda fn=fn: fn(*jargs)
    os.environ.pop("JTORCH_ONEDNN_LAYOUT")

    tbn = torch.nn.BatchNorm2d(shape[1]).train()
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(g)

    def torch_step():
        tx.grad = None
        tbn.zero_grad()
        (torch.relu(tbn(tx)) * tg).sum().backward()

    contenders["torch"] = torch_step
    best = best_of(contenders, args.rounds)
    print(f"BatchNorm2d+ReLU forward+backward on {shape}, ms (best of {args.rounds} rounds)")
    for name, seconds in best.items():
        print(f"{name:<16}{seconds * 1e3:>9.2f}{best['torch'] / seconds:>8.2f}x torch")


if __name__ == "__main__":
    main()
