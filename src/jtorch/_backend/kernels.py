"""The dispatch point: maths that has a faster kernel on some platform computes through here.

Each function takes the portable implementation (`portable=`, plain JAX, what runs everywhere)
and returns its result, except in computations lowered for the CPU when the native kernels are
enabled, where the oneDNN/C++ kernel runs instead. The choice is `jax.lax.platform_dependent`:
made per lowering platform, not from `jax.default_backend()`, so one traced program carries
both paths (a CPU computation on a GPU host still gets oneDNN; a GPU computation never does),
and XLA keeps only the branch of the platform it compiles for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jtorch._backend import channel_stats, native, onednn_conv
from jtorch._backend.layout import activations_channels_last

__all__ = ["conv_nd", "conv_transpose_nd", "channel_moments", "channel_grad_sums"]


def _onednn_operands(x: jax.Array, w: jax.Array, b: Any) -> bool:
    """float32 and non-empty (XLA handles empty convolutions, oneDNN refuses them)."""
    arrays = (x, w) if b is None else (x, w, jnp.asarray(b))
    return all(a.dtype == jnp.float32 for a in arrays) and x.size > 0 and w.size > 0


def conv_nd(x, w, b, stride, padding, dilation, groups, *, relu=False, portable: Callable):
    """`portable(x, w, b, stride, padding, dilation, groups, relu)`, on oneDNN for float32
    computations lowered for the CPU (arguments as `onednn_conv.conv_nd`)."""
    x, w = jnp.asarray(x), jnp.asarray(w)

    def general(x, w, b):
        return portable(x, w, b, stride, padding, dilation, groups, relu)

    if not (native.enabled() and _onednn_operands(x, w, b)):
        return general(x, w, b)

    def cpu(x, w, b):
        return onednn_conv.conv_nd(x, w, b, stride, padding, dilation, groups, relu=relu)

    return lax.platform_dependent(x, w, b, cpu=cpu, default=general)


def conv_transpose_nd(
    x, w, b, stride, padding, output_padding, dilation, groups, *, portable: Callable
):
    """`portable(x, w, b, stride, padding, output_padding, dilation, groups)`, on oneDNN's
    backward-data primitive for float32 computations lowered for the CPU."""
    x, w = jnp.asarray(x), jnp.asarray(w)
    args = (stride, padding, output_padding, dilation, groups)

    def general(x, w, b):
        return portable(x, w, b, *args)

    if not (native.enabled() and _onednn_operands(x, w, b)):
        return general(x, w, b)

    def cpu(x, w, b):
        return onednn_conv.conv_transpose_nd(x, w, b, *args)

    return lax.platform_dependent(x, w, b, cpu=cpu, default=general)


def _reads_in_place(x: jax.Array) -> bool:
    """Whether x's per-channel sums can read it in place: float32 activations that the layout
    policy stores channels-last, with the native kernels enabled."""
    return (
        x.dtype == jnp.float32
        and native.enabled()
        and activations_channels_last(x.shape[1])
        and x.size > 0
    )


def channel_moments(x: jax.Array, *, portable: Callable) -> tuple[jax.Array, jax.Array]:
    """Per-channel (mean, biased variance), each (C,), of (N, C, *) x: `portable(x)`, or the
    C++ sums over channels-last activations on the CPU."""
    if not _reads_in_place(x):
        return portable(x)
    return lax.platform_dependent(x, cpu=channel_stats.moments, default=portable)


def channel_grad_sums(
    g: jax.Array, x: jax.Array, mean: jax.Array, *, portable: Callable
) -> tuple[jax.Array, jax.Array]:
    """Per-channel (sum(g), sum(g·(x − mean))), each (C,), for (N, C, *) g and x and (C,) mean:
    `portable(g, x, mean)`, or the C++ sums on the CPU."""
    if not (_reads_in_place(x) and g.dtype == jnp.float32):
        return portable(g, x, mean)
    return lax.platform_dependent(g, x, mean, cpu=channel_stats.grad_sums, default=portable)
