"""Cost of torch's tensor methods on JAX arrays (jtorch._tensor_methods), in and out of `jit`.

Eager: seconds per call of a patched method against JAX's own method or `jnp` function for the
same result (`x.sum(1)` through jtorch's dispatcher vs JAX's unpatched `sum`, `x.view(-1, 16)` vs
`x.reshape(-1, 16)`, `x.max(dim=1)` vs `jnp.max` + `jnp.argmax`, `x.size(0)` vs `x.shape[0]`).
Jit: trace+lower time of a 40-op function written with torch methods vs the same function in
`jnp`, and the compiled call time of each (the programs are the same, so the ratio is ~1).

Run: python benchmarks/bench_tensor_methods.py [--rounds 7] [--calls 2000]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
from _timing import best_of

import jtorch  # noqa: F401  (installs the methods)
from jtorch import _tensor_methods


def _original(name: str):
    """JAX's own method behind a jtorch dispatcher."""
    return getattr(getattr(type(jnp.ones(1)), name), _tensor_methods._MARK)


def _torch_style(x):
    for _ in range(10):
        x = x.view(-1, 16).t().unsqueeze(0).squeeze(0).t()
        x = x + x.sum(dim=1, keepdim=True).exp().clamp(max=1.0) * 0.01
    return x


def _jnp_style(x):
    for _ in range(10):
        x = jnp.reshape(x, (-1, 16)).T[None].squeeze(0).T
        x = x + jnp.clip(jnp.exp(jnp.sum(x, axis=1, keepdims=True)), None, 1.0) * 0.01
    return x


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)

    x = jnp.ones((64, 16))
    jax_sum = _original("sum")
    pairs = {
        "x.sum(1) (JAX form)": (lambda: x.sum(1), lambda: jax_sum(x, 1)),
        "x.view(-1, 16)": (lambda: x.view(-1, 16), lambda: x.reshape(-1, 16)),
        "x.sum(dim=1)": (lambda: x.sum(dim=1), lambda: jnp.sum(x, 1)),
        "x.max(dim=1)": (lambda: x.max(dim=1), lambda: (jnp.max(x, 1), jnp.argmax(x, 1))),
        "x.t()": (lambda: x.t(), lambda: x.T),
        "x.size(0)": (lambda: x.size(0), lambda: x.shape[0]),
    }
    results = {}
    print(f"{'eager call':24s} {'jtorch µs':>10s} {'JAX µs':>10s} {'ratio':>7s}")
    for name, (ours, theirs) in pairs.items():
        t = best_of({"ours": ours, "jax": theirs}, args.rounds, args.calls)
        results[name] = t["ours"] / t["jax"]
        print(f"{name:24s} {t['ours'] * 1e6:10.2f} {t['jax'] * 1e6:10.2f} {results[name]:7.2f}")

    trace_s = {}
    for name, fn in (("torch methods", _torch_style), ("jnp", _jnp_style)):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            jax.jit(lambda y, fn=fn: fn(y)).lower(x)  # a new function: traced afresh
            best = min(best, time.perf_counter() - start)
        trace_s[name] = best
    torch_jit, jnp_jit = jax.jit(_torch_style), jax.jit(_jnp_style)
    t = best_of(
        {"torch": lambda: torch_jit(x), "jnp": lambda: jnp_jit(x)},
        args.rounds,
        args.calls // 10,
    )
    results["jit trace"] = trace_s["torch methods"] / trace_s["jnp"]
    results["jit call"] = t["torch"] / t["jnp"]
    print(
        f"jit trace+lower, 40 ops: torch methods {trace_s['torch methods'] * 1e3:.1f} ms, "
        f"jnp {trace_s['jnp'] * 1e3:.1f} ms (ratio {results['jit trace']:.2f})"
    )
    print(
        f"jit call: torch methods {t['torch'] * 1e6:.1f} µs, jnp {t['jnp'] * 1e6:.1f} µs "
        f"(ratio {results['jit call']:.2f})"
    )
    return results


if __name__ == "__main__":
    main()
