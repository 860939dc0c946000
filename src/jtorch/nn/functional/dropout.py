"""Dropout variants: an explicit PRNG `key`, or else a draw from jtorch's global generator."""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp

from jtorch._random import next_key

__all__ = [
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
]

# SELU's negative saturation value −scale·alpha, which alpha dropout sets dropped units to
_ALPHA_PRIME = 1.7580993408473766


def _trivial(x: jax.Array, p: float, training: bool) -> jax.Array | None:
    """Check `p`; the output when no mask is needed (eval, p = 0: `x`; p = 1: zeros), else None."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return jnp.zeros_like(x)
    return None


def _channel_mask_shape(x: jax.Array) -> tuple[int, ...]:
    """One mask entry per (N, C), broadcast over the remaining axes."""
    return x.shape[:2] + (1,) * (x.ndim - 2)


def _apply_mask(x: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """Zero the dropped entries and scale the kept ones by 1/(1−p)."""
    return jnp.where(keep, x / (1.0 - p), jnp.zeros((), x.dtype))


def dropout(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero each element with probability p and scale survivors by 1/(1−p) (training only).

    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    x = jnp.asarray(input)
    out = _trivial(x, p, training)
    if out is not None:
        return out
    return _apply_mask(x, jax.random.bernoulli(_key_or_next(key), 1.0 - p, x.shape), p)


def _key_or_next(key: jax.Array | None) -> jax.Array:
    """`key`, or the global generator's next key (torch's implicit draw) when none is given."""
    return next_key() if key is None else key


def _channel_dropout(
    fn: str, x: jax.Array, p: float, training: bool, key: jax.Array | None, batched: bool
) -> jax.Array:
    """Zero whole channels: one Bernoulli(1−p) draw per (N, C), broadcast over the rest."""
    out = _trivial(x, p, training)
    if out is not None:
        return out
    x = x if batched else x[None]
    keep = jax.random.bernoulli(_key_or_next(key), 1.0 - p, _channel_mask_shape(x))
    out = _apply_mask(x, keep, p)
    return out if batched else out[0]


def dropout1d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scaling the rest by 1/(1−p).

    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    x = jnp.asarray(input)
    if x.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected `input` of shape (C, L) or (N, C, L) (2D or 3D), got shape "
            f"{tuple(x.shape)}"
        )
    return _channel_dropout("dropout1d", x, p, training, key, batched=x.ndim == 3)


def dropout2d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero whole channels of (N, C, H, W) with probability p, scaling the rest by 1/(1−p).

    A 3-D input is treated as (N, C, L) with a warning, as torch does.
    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    x = jnp.asarray(input)
    if x.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if x.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    if x.ndim < 2:
        return dropout(x, p, training, key=key)
    return _channel_dropout("dropout2d", x, p, training, key, batched=True)


def dropout3d(
    input: Any,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p (scale 1/(1−p)).

    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    x = jnp.asarray(input)
    if x.ndim not in (4, 5):
        raise ValueError(
            f"dropout3d: expected `input` of shape (C, D, H, W) or (N, C, D, H, W) (4D or 5D), "
            f"got shape {tuple(x.shape)}"
        )
    return _channel_dropout("dropout3d", x, p, training, key, batched=x.ndim == 5)


def _alpha_dropout(
    fn: str, x: jax.Array, p: float, training: bool, key: jax.Array | None, feature: bool
) -> jax.Array:
    out = _trivial(x, p, training)
    if out is not None:
        return out
    if feature and x.ndim < 2:
        raise ValueError(
            f"{fn}: `input` must have shape (N, C, *) (at least 2-D), got shape {tuple(x.shape)}"
        )
    shape = _channel_mask_shape(x) if feature else x.shape
    keep = jax.random.bernoulli(_key_or_next(key), 1.0 - p, shape)
    a = ((1.0 - p) * (1.0 + p * _ALPHA_PRIME**2)) ** -0.5
    b = _ALPHA_PRIME * a * p
    return jnp.where(keep, x * a, jnp.asarray(-_ALPHA_PRIME * a, x.dtype)) + b


def alpha_dropout(
    input: Any,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Dropout for SELU nets: dropped units take SELU's saturation value, then an affine map
    a·x + b restores zero mean and unit variance (torch.nn.functional.alpha_dropout).

    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    return _alpha_dropout("alpha_dropout", jnp.asarray(input), p, training, key, feature=False)


def feature_alpha_dropout(
    input: Any,
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Alpha dropout of whole channels of (N, C, *) (torch.nn.functional.feature_alpha_dropout).

    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    return _alpha_dropout(
        "feature_alpha_dropout", jnp.asarray(input), p, training, key, feature=True
    )
