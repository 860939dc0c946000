"""Step time of a `jtorch.jit` train step against the same maths as a raw `jax.jit` function.

MLP 784-256-10, batch 128, cross-entropy, SGD(lr=0.01, momentum=0.9). The raw version passes
plain arrays (params, momentum buffers) in and out; jtorch passes the Module and the optimizer
facade. A third column runs the same jtorch step through Flax's maintained cache,
`nnx.compat.cached_partial(nnx.compat.jit(step), model, optimizer_state)`, the candidate for
replacing jtorch.jit's own (Flax's tree-mode `nnx.jit_partial` refuses this state: the
optimizer's node shares the model's Parameters). All are timed in alternating rounds and the best
round of each is compared, so the ratios are robust to a noisy machine. Target: jtorch/raw <= 1.10.

Run: python benchmarks/bench_jit.py [--steps 300] [--rounds 7]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
from _timing import best_of
from flax import nnx

import jtorch
from jtorch import nn, optim


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(784, 256)
        self.act = nn.ReLU()
        self.output = nn.Linear(256, 10)

    def forward(self, x):
        return self.output(self.act(self.hidden(x)))


def cross_entropy(logits, y):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)

    jtorch.manual_seed(0)
    x = jtorch.randn(128, 784)
    y = jtorch.randint(0, 10, (128,))
    model = MLP()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    @jtorch.jit
    def jtorch_step(model, optimizer, x, y):
        loss, grads = jtorch.value_and_grad(lambda m: cross_entropy(m(x), y))(model)
        optimizer.step(grads)
        return loss

    params = {k: jnp.array(v) for k, v in model.state_dict().items()}
    bufs = jax.tree.map(jnp.zeros_like, params)

    def forward(p, x):
        h = jax.nn.relu(x @ p["hidden.weight"].T + p["hidden.bias"])
        return h @ p["output.weight"].T + p["output.bias"]

    @jax.jit
    def raw_step(p, b, x, y, first):
        loss, g = jax.value_and_grad(lambda p: cross_entropy(forward(p, x), y))(p)
        b = jax.tree.map(lambda b, g: jnp.where(first, g, 0.9 * b + g), b, g)
        p = jax.tree.map(lambda p, b: p - 0.01 * b, p, b)
        return p, b, loss

    raw_state = [params, bufs, jnp.array(True)]

    def run_raw():
        raw_state[0], raw_state[1], loss = raw_step(raw_state[0], raw_state[1], x, y, raw_state[2])
        raw_state[2] = jnp.array(False)
        return loss

    def run_jtorch():
        return jtorch_step(model, optimizer, x, y)

    flax_model = MLP()
    flax_optimizer = optim.SGD(flax_model.parameters(), lr=0.01, momentum=0.9)

    def flax_step(model, optimizer_state, x, y):
        optimizer = flax_optimizer._jtorch_with_state_node(optimizer_state)
        loss, grads = jtorch.value_and_grad(lambda m: cross_entropy(m(x), y))(model)
        optimizer.step(grads)
        return loss

    flax_optimizer._jtorch_before_jit()
    run_flax_step = nnx.compat.cached_partial(
        nnx.compat.jit(flax_step), flax_model, flax_optimizer._jtorch_state_node()
    )

    def run_flax():
        return run_flax_step(x, y)

    t0 = time.perf_counter()
    jax.block_until_ready(run_flax())
    compile_flax = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(run_jtorch())
    compile_jtorch = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(run_raw())
    compile_raw = time.perf_counter() - t0

    runs = {"jtorch": run_jtorch, "raw": run_raw, "flax": run_flax}
    best = best_of(runs, args.rounds, args.steps, warmup=0)
    best_j, best_r, best_f = best["jtorch"], best["raw"], best["flax"]
    ratio = best_j / best_r
    print(f"device: {jax.devices()[0].platform}")
    print(
        f"first call (trace+compile): jtorch {compile_jtorch:.2f} s, raw {compile_raw:.2f} s, "
        f"flax cached_partial {compile_flax:.2f} s"
    )
    print(
        f"step time: jtorch.jit {best_j * 1e6:.0f} us, raw jax.jit {best_r * 1e6:.0f} us, "
        f"flax cached_partial {best_f * 1e6:.0f} us"
    )
    print(f"ratio jtorch/raw: {ratio:.3f} (target <= 1.10)")
    print(f"ratio flax cached_partial/raw: {best_f / best_r:.3f}")
    return ratio


if __name__ == "__main__":
    main()
