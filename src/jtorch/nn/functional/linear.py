"""Affine maps: linear, bilinear (torch layout: weight is (out, in))."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["linear"]


def linear(input: Any, weight: Any, bias: Any = None) -> jax.Array:
    """y = x·Wᵀ + b with W of shape (out_features, in_features) (torch.nn.functional.linear)."""
    x, w = jnp.asarray(input), jnp.asarray(weight)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 'no'} features on its last axis "
            f"(shape {tuple(x.shape)}), expected in_features={w.shape[-1]} "
            f"(weight shape {tuple(w.shape)})"
        )
    y = x @ w.T
    return y if bias is None else y + jnp.asarray(bias)
