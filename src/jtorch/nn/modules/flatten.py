"""Flatten and Unflatten."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtorch.nn.module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one (torch.nn.Flatten; defaults keep the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        if x.ndim == 0:
            return x.reshape(1)
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        if start > end:
            raise ValueError(
                f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} "
                f"for input of shape {tuple(x.shape)}"
            )
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
