"""Activation functions (torch.nn.functional: relu, gelu, softmax, ...)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["relu"]


def relu(input: Any, inplace: bool = False) -> jax.Array:
    """max(x, 0); `inplace` is accepted and ignored (arrays are immutable)."""
    return jax.nn.relu(jnp.asarray(input))
