"""Affine maps: linear, bilinear (torch layout: weight is (out, in))."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["linear", "bilinear"]


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


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> jax.Array:
    """y[..., o] = Σ_ij x1[..., i] · W[o, i, j] · x2[..., j] + b[o] (torch.nn.functional.bilinear).

    Shapes: input1 (*, in1), input2 (*, in2) with the same leading axes, weight (out, in1, in2).
    """
    x1, x2, w = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(weight)
    if (
        w.ndim != 3
        or x1.ndim < 1
        or x1.shape[-1] != w.shape[1]
        or x2.shape[-1:] != w.shape[2:]
        or x1.shape[:-1] != x2.shape[:-1]
    ):
        raise ValueError(
            f"bilinear: expected input1 (*, {w.shape[1] if w.ndim == 3 else 'in1'}) and input2 "
            f"(*, {w.shape[2] if w.ndim == 3 else 'in2'}) with the same leading shape for "
            f"weight (out, in1, in2) of shape {tuple(w.shape)}; got input1 {tuple(x1.shape)}, "
            f"input2 {tuple(x2.shape)}"
        )
    y = jnp.einsum("...i,oij,...j->...o", x1, w, x2)
    return y if bias is None else y + jnp.asarray(bias)
