"""Dropout variants; each takes an explicit PRNG key."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["dropout"]


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(
    input: Any, p: float = 0.5, training: bool = True, inplace: bool = False, *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Zero each element with probability p and scale survivors by 1/(1−p) (training only).

    Differs from torch: the randomness is an explicit `key` (keyword-only), required in training.
    """
    _check_p(p)
    x = jnp.asarray(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return jnp.zeros_like(x)
    if key is None:
        raise ValueError("dropout: `key` is required when training=True and p > 0")
    keep = jax.random.bernoulli(key, 1.0 - p, x.shape)
    return jnp.where(keep, x / (1.0 - p), jnp.zeros((), x.dtype))
