"""Cost of the optimizer update inside a compiled step: `optim.Adam` facade vs `optax.adam`.

A 10M-parameter pytree (10 arrays of 1000x1000), fixed gradients passed in. jtorch: a Module
holding the arrays as Parameters, `optimizer.step(grads)` inside `jtorch.jit` (hyperparameters
are state arrays, the state per parameter is torch's). Raw: `optax.adam` update +
`optax.apply_updates` inside `jax.jit`, params and state passed in and out. Both are timed in
alternating rounds and the best round of each is compared (robust to a noisy machine); with
`--donate` both reuse their input buffers. Target: jtorch/optax <= 1.2.

Run: python benchmarks/bench_optim.py [--steps 20] [--rounds 5] [--donate]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from _timing import best_of

import jtorch
from jtorch import nn, optim

N_ARRAYS, SHAPE = 10, (1000, 1000)


class Blob(nn.Module):
    def __init__(self, arrays):
        super().__init__()
        for i, a in enumerate(arrays):
            setattr(self, f"w{i}", nn.Parameter(a))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--donate", action="store_true")
    args = parser.parse_args(argv)

    keys = jax.random.split(jax.random.key(0), 2 * N_ARRAYS)
    params = [jax.random.normal(k, SHAPE) for k in keys[:N_ARRAYS]]
    grads = [jax.random.normal(k, SHAPE) * 1e-2 for k in keys[N_ARRAYS:]]
    count = sum(p.size for p in params)

    model = Blob([jnp.array(p) for p in params])
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    @jtorch.jit(donate=args.donate)
    def jtorch_step(optimizer, grads):
        optimizer.step(grads)

    tx = optax.adam(1e-3)

    def raw_update(p, s, g):
        updates, s = tx.update(g, s, p)
        return optax.apply_updates(p, updates), s

    raw_step = jax.jit(raw_update, donate_argnums=(0, 1) if args.donate else ())
    raw_state = [[jnp.array(p) for p in params], None]
    raw_state[1] = tx.init(raw_state[0])

    def run_raw():
        raw_state[0], raw_state[1] = raw_step(raw_state[0], raw_state[1], grads)
        return raw_state[0]

    def run_jtorch():
        jtorch_step(optimizer, grads)
        return model.w0.value

    best = best_of({"raw": run_raw, "jtorch": run_jtorch}, args.rounds, args.steps)
    best_raw, best_jt = best["raw"], best["jtorch"]
    ratio = best_jt / best_raw
    print(f"Adam update on {count / 1e6:.0f}M parameters, donate={args.donate}, {jax.devices()[0]}")
    print(f"  optax.adam + jax.jit     : {best_raw * 1e3:8.2f} ms/step")
    print(f"  optim.Adam + jtorch.jit  : {best_jt * 1e3:8.2f} ms/step")
    print(f"  ratio jtorch/optax       : {ratio:.3f}  (target <= 1.2)")
    return ratio


if __name__ == "__main__":
    main()
