"""Where bench_train.py's steps spend their time: the pieces that dominate the families where
jtorch does not lead, timed in JAX (compiled, as jtorch runs them) and in torch (2 threads)
in one run: torch first, in a process of its own (its OpenMP threads would otherwise spin while
JAX works), then JAX here; best of the rounds each.

- decoder: the word-language-model output layer, (700, 200) @ (200, 10000): forward, dX, dW
- cross_entropy: forward+backward over (700, 10000) logits (jtorch's F.cross_entropy)
- attention core: softmax(q·kᵀ/√d)·v forward+backward, (32, 4, 128, 64); torch's
  scaled_dot_product_attention (its fused CPU kernel)
- mha block: nn.MultiheadAttention(256, 4, batch_first) forward and forward+backward, B=32, S=128
- eval mlp: Linear(784, 256)-ReLU-Linear(256, 10) at B=128 as raw jax.jit, jtorch.jit and torch

Ratios are torch time / JAX time (> 1: JAX faster).

Run: python benchmarks/bench_pieces.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_of

import jtorch
import jtorch.nn.functional as F
from jtorch import nn


def _inputs():
    rng = np.random.default_rng(0)
    shapes = {"x": (700, 200), "w": (10000, 200), "g": (700, 10000), "q": (32, 4, 128, 64)}
    data = {k: rng.standard_normal(v, dtype=np.float32) for k, v in shapes.items()}
    data["h"] = rng.standard_normal((32, 128, 256), dtype=np.float32)
    data["xe"] = rng.standard_normal((128, 784), dtype=np.float32)
    data["labels"] = rng.integers(0, 10000, 700)
    return data


def _models():
    """The MHA block and the eval MLP, with their weights as numpy (for both sides)."""
    jtorch.manual_seed(0)
    attn = nn.MultiheadAttention(256, 4, batch_first=True)
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    return attn, mlp


def _torch_times(rounds: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(2)
    d = {k: torch.from_numpy(v) for k, v in _inputs().items()}
    attn, mlp = _models()
    tattn = torch.nn.MultiheadAttention(256, 4, batch_first=True)
    tattn.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in attn.state_dict().items()})
    tparams = [torch.from_numpy(np.array(p.value)) for p in mlp.parameters()]
    tf = torch.nn.functional
    logits = d["g"].clone().requires_grad_()
    q = d["q"].clone().requires_grad_()

    def ce():
        logits.grad = None
        tf.cross_entropy(logits, d["labels"]).backward()

    def core():
        q.grad = None
        (tf.scaled_dot_product_attention(q, q, q) ** 2).mean().backward()

    def mha():
        with torch.no_grad():
            return tattn(d["h"], d["h"], d["h"], need_weights=False)

    def mha_grad():
        tattn.zero_grad()
        (tattn(d["h"], d["h"], d["h"], need_weights=False)[0] ** 2).mean().backward()

    def mlp_eval():
        with torch.no_grad():
            return tf.linear(tf.relu(tf.linear(d["xe"], *tparams[:2])), *tparams[2:])

    fns = {
        "decoder forward": lambda: d["x"] @ d["w"].T,
        "decoder dX": lambda: d["g"] @ d["w"],
        "decoder dW": lambda: d["g"].T @ d["x"],
        "cross_entropy fwd+bwd": ce,
        "attention core fwd+bwd": core,
        "mha block forward": mha,
        "mha block fwd+bwd": mha_grad,
        "eval mlp": mlp_eval,
    }
    return {name: best_of({name: fn}, rounds, calls=_calls(name))[name] for name, fn in fns.items()}


def _calls(name: str) -> int:
    return 50 if name == "eval mlp" else 3


def _jax_times(rounds: int) -> dict[str, dict[str, float]]:
    d = {
        k: jnp.asarray(v.astype(np.int32) if v.dtype == np.int64 else v)
        for k, v in _inputs().items()
    }
    attn, mlp = _models()
    params = [p.value for p in mlp.parameters()]
    ce = jax.jit(jax.value_and_grad(F.cross_entropy))

    def core(q):
        weights = jax.nn.softmax((q / 8.0) @ jnp.swapaxes(q, -1, -2), axis=-1)
        return ((weights @ q) ** 2).mean()

    core_grad = jax.jit(jax.grad(core))
    mha = jtorch.jit(lambda m, h: m(h, h, h, need_weights=False)[0])
    mha_grad = jtorch.jit(
        lambda m, h: jtorch.grad(lambda m: (m(h, h, h, need_weights=False)[0] ** 2).mean())(m)
    )
    raw_mlp = jax.jit(lambda p, x: jax.nn.relu(x @ p[0].T + p[1]) @ p[2].T + p[3])
    jit_mlp = jtorch.jit(lambda m, x: m(x))
    forward = jax.jit(lambda x, w: x @ w.T)
    dx = jax.jit(lambda g, w: g @ w)
    dw = jax.jit(lambda g, x: g.T @ x)
    fns = {
        "decoder forward": {"jax": lambda: forward(d["x"], d["w"])},
        "decoder dX": {"jax": lambda: dx(d["g"], d["w"])},
        "decoder dW": {"jax": lambda: dw(d["g"], d["x"])},
        "cross_entropy fwd+bwd": {"jax": lambda: ce(d["g"], d["labels"])},
        "attention core fwd+bwd": {"jax": lambda: core_grad(d["q"])},
        "mha block forward": {"jax": lambda: mha(attn, d["h"])},
        "mha block fwd+bwd": {"jax": lambda: mha_grad(attn, d["h"])},
        "eval mlp": {
            "jax": lambda: raw_mlp(params, d["xe"]),
            "jtorch.jit": lambda: jit_mlp(mlp, d["xe"]),
        },
    }
    return {name: best_of(group, rounds, calls=_calls(name)) for name, group in fns.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with mp.get_context("spawn").Pool(1) as pool:
        torch_times = pool.apply(_torch_times, (rounds,))
    for name, best in _jax_times(rounds).items():
        ms = "   ".join(
            f"{k} {v * 1e3:8.3f} ms" for k, v in {**best, "torch": torch_times[name]}.items()
        )
        print(f"{name:<24}{ms}   torch/jax {torch_times[name] / best['jax']:.2f}", flush=True)


if __name__ == "__main__":
    main()
