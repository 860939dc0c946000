"""LSTM and GRU layers' recurrences over time, each with a hand-written reverse pass.

The recurrence is the part of an RNN that cannot be batched over time, and XLA's CPU loop pays
per step for every operation in it. JAX's own derivative of the `lax.scan` carries dW_hh
through the loop (one small matmul per step) and splits the gate maths into many small
operations; here the reverse pass keeps only dh·W_hh in the loop and forms dW_hh as one matmul
over all steps afterwards, from the gate activations the forward pass saved (what cuDNN and
oneDNN keep as their RNN workspace). The forward pass multiplies by W_hhᵀ laid out once before
the loop. Measured in `benchmarks/bench_train.py --cases lstm_lm,gru_lm`.

Differs from differentiating the scan: forward-mode derivatives (`jax.jvp`, `jax.jacfwd`) are
not defined through these functions (each a `jax.custom_vjp`); `lstm` and `gru` use them only
where the layer has no projection and no `lengths` mask.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["lstm_recurrence", "gru_recurrence"]

# Steps per loop iteration: fewer iterations of XLA's CPU loop, a little more compile time.
_UNROLL = 5


def _previous(seq: jax.Array, first: jax.Array, reverse: bool) -> jax.Array:
    """The state entering each step: `first`, then seq[:-1] (seq[1:], then `first`, reversed)."""
    if reverse:
        return jnp.concatenate([seq[1:], first[None]], axis=0)
    return jnp.concatenate([first[None], seq[:-1]], axis=0)


def _laid_out_once(w_hh: jax.Array) -> jax.Array:
    """W_hhᵀ (H, gates·H) materialised before the loop: XLA's CPU dot of h (N, H) by it is
    faster than by W_hh contracted on its second axis, which XLA would otherwise do each step
    (the forward rows of `benchmarks/bench_recurrence.py`)."""
    return jax.lax.optimization_barrier(w_hh.T)


def _lstm_forward(zx, h0, c0, w_hh, reverse):
    hidden = h0.shape[-1]
    w_t = _laid_out_once(w_hh)

    def step(carry, z_t):
        h, c = carry
        z = z_t + h @ w_t
        s = jax.nn.sigmoid(z)  # one pass over all gates; g's sigmoid is unused
        i, f, o = s[..., :hidden], s[..., hidden : 2 * hidden], s[..., 3 * hidden :]
        g = jnp.tanh(z[..., 2 * hidden : 3 * hidden])
        c = f * c + i * g
        tanh_c = jnp.tanh(c)
        h = o * tanh_c
        return (h, c), (h, c, jnp.concatenate([i, f, g, o], axis=-1), tanh_c)

    (h_n, c_n), saved = jax.lax.scan(step, (h0, c0), zx, reverse=reverse, unroll=_UNROLL)
    return (saved[0], h_n, c_n), saved


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def lstm_recurrence(
    zx: jax.Array, h0: jax.Array, c0: jax.Array, w_hh: jax.Array, reverse: bool
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Run an LSTM layer's recurrence in torch's gate order i, f, g, o.

    `zx` (L, N, 4H) is every step's W_ih·x_t + b_ih + b_hh (one matmul for the whole sequence,
    done by the caller), `h0`, `c0` (N, H), `w_hh` (4H, H). Returns the outputs (L, N, H) and
    the final (h, c); `reverse=True` walks the sequence backwards, outputs kept in time order.
    """
    return _lstm_forward(zx, h0, c0, w_hh, reverse)[0]


def _lstm_vjp_forward(zx, h0, c0, w_hh, reverse):
    out, (hs, cs, gates, tanh_cs) = _lstm_forward(zx, h0, c0, w_hh, reverse)
    return out, (h0, c0, w_hh, hs, cs, gates, tanh_cs)


def _lstm_vjp_backward(reverse, saved, cotangents):
    h0, c0, w_hh, hs, cs, gates, tanh_cs = saved
    d_ys, d_h_n, d_c_n = cotangents
    hidden = h0.shape[-1]

    def step(carry, xs):
        dh_next, dc_next = carry
        dy, gate, tanh_c, c_prev = xs
        i, f = gate[..., :hidden], gate[..., hidden : 2 * hidden]
        g, o = gate[..., 2 * hidden : 3 * hidden], gate[..., 3 * hidden :]
        dh = dy + dh_next
        dc = dh * o * (1 - tanh_c * tanh_c) + dc_next
        dz = jnp.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g * g),
                dh * tanh_c * o * (1 - o),
            ],
            axis=-1,
        )
        return (dz @ w_hh, dc * f), dz

    xs = (d_ys, gates, tanh_cs, _previous(cs, c0, reverse))
    (dh0, dc0), dz = jax.lax.scan(step, (d_h_n, d_c_n), xs, reverse=not reverse, unroll=_UNROLL)
    dw_hh = jnp.einsum("lng,lnh->gh", dz, _previous(hs, h0, reverse))  # one matmul, all steps
    return dz, dh0, dc0, dw_hh


lstm_recurrence.defvjp(_lstm_vjp_forward, _lstm_vjp_backward)


def _gru_forward(zx, h0, w_hh, b_hh, reverse):
    hidden = h0.shape[-1]
    w_t = _laid_out_once(w_hh)

    def step(h, z_t):
        zh = h @ w_t + b_hh  # (N, 3H): r, z, n parts of W_hh·h + b_hh
        rz = jax.nn.sigmoid(z_t[..., : 2 * hidden] + zh[..., : 2 * hidden])
        r, z = rz[..., :hidden], rz[..., hidden:]
        hn = zh[..., 2 * hidden :]
        n = jnp.tanh(z_t[..., 2 * hidden :] + r * hn)  # torch: r multiplies W_hn·h + b_hn
        new = (1 - z) * n + z * h
        return new, (new, jnp.concatenate([r, z, n], axis=-1), hn)

    h_n, saved = jax.lax.scan(step, h0, zx, reverse=reverse, unroll=_UNROLL)
    return (saved[0], h_n), saved


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def gru_recurrence(
    zx: jax.Array, h0: jax.Array, w_hh: jax.Array, b_hh: jax.Array, reverse: bool
) -> tuple[jax.Array, jax.Array]:
    """Run a GRU layer's recurrence in torch's gate order r, z, n.

    `zx` (L, N, 3H) is every step's W_ih·x_t + b_ih (one matmul for the whole sequence, done by
    the caller), `h0` (N, H), `w_hh` (3H, H), `b_hh` (3H,) (zeros for a layer without biases:
    b_hn sits inside r·(W_hn·h + b_hn), so it cannot join `zx`). Returns the outputs (L, N, H)
    and the final h; `reverse=True` walks the sequence backwards, outputs kept in time order.
    """
    return _gru_forward(zx, h0, w_hh, b_hh, reverse)[0]


def _gru_vjp_forward(zx, h0, w_hh, b_hh, reverse):
    out, (hs, gates, hns) = _gru_forward(zx, h0, w_hh, b_hh, reverse)
    return out, (h0, w_hh, hs, gates, hns)


def _gru_vjp_backward(reverse, saved, cotangents):
    h0, w_hh, hs, gates, hns = saved
    d_ys, d_h_n = cotangents
    hidden = h0.shape[-1]

    def step(dh_next, xs):
        dy, gate, hn, h_prev = xs
        r, z, n = gate[..., :hidden], gate[..., hidden : 2 * hidden], gate[..., 2 * hidden :]
        dh = dy + dh_next
        dn = dh * (1 - z) * (1 - n * n)  # through tanh
        dr = dn * hn * r * (1 - r)
        dz = dh * (h_prev - n) * z * (1 - z)
        dzx = jnp.concatenate([dr, dz, dn], axis=-1)  # d(W_ih·x + b_ih)
        dzh = jnp.concatenate([dr, dz, dn * r], axis=-1)  # d(W_hh·h + b_hh)
        return dh * z + dzh @ w_hh, (dzx, dzh)

    h_prev = _previous(hs, h0, reverse)
    dh0, (dzx, dzh) = jax.lax.scan(
        step, d_h_n, (d_ys, gates, hns, h_prev), reverse=not reverse, unroll=_UNROLL
    )
    dw_hh = jnp.einsum("lng,lnh->gh", dzh, h_prev)  # one matmul, all steps
    return dzx, dh0, dw_hh, dzh.sum(axis=(0, 1))


gru_recurrence.defvjp(_gru_vjp_forward, _gru_vjp_backward)
