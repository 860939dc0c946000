"""BatchNorm's per-channel sums on channels-last activations, as XLA FFI custom calls on the CPU.

Where the oneDNN convolutions keep activations channels-last (`layout.activations_channels_last`),
XLA would copy each one back to row-major before reducing it over (N, *spatial); the handlers in
csrc/channel_stats.cc read it in place. Both are plain reductions (no gradient of their own):
BatchNorm's hand-written backward calls `grad_sums` itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jtorch._backend.layout import channels_last_layout


def moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and biased variance of float32 (N, C, *) as two (C,) arrays."""
    per_channel = (jax.ShapeDtypeStruct((x.shape[1],), jnp.float32),) * 2
    return jax.ffi.ffi_call(
        "jtorch_channel_moments",
        per_channel,
        vmap_method="sequential",
        input_layouts=[channels_last_layout(x.ndim)],
    )(x)


def grad_sums(g: jax.Array, x: jax.Array, mean: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel sum(g) and sum(g·(x − mean)) of float32 (N, C, *) g and x, mean (C,)."""
    per_channel = (jax.ShapeDtypeStruct((x.shape[1],), jnp.float32),) * 2
    layout = channels_last_layout(x.ndim)
    return jax.ffi.ffi_call(
        "jtorch_channel_grad_sums",
        per_channel,
        vmap_method="sequential",
        input_layouts=[layout, layout, None],
    )(g, x, mean)
