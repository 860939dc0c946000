"""Flatten and Unflatten."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jtorch.nn.module import Module

__all__ = ["Flatten", "Unflatten"]


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


class Unflatten(Module):
    """Split axis `dim` into `unflattened_size` (torch.nn.Unflatten; one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: Any):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, int) for s in unflattened_size
        ):
            raise TypeError(
                f"Unflatten: `unflattened_size` must be a tuple of ints, got {unflattened_size!r}"
            )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(
                f"Unflatten: `dim`={self.dim} is out of range for input of shape {tuple(x.shape)}"
            )
        dim = self.dim % x.ndim
        sizes = tuple(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        if sizes.count(-1) > 1 or (
            known != x.shape[dim] if -1 not in sizes else known == 0 or x.shape[dim] % known
        ):
            raise ValueError(
                f"Unflatten: `unflattened_size`={self.unflattened_size} does not match size "
                f"{x.shape[dim]} of axis {self.dim} of input with shape {tuple(x.shape)}"
            )
        return x.reshape(*x.shape[:dim], *sizes, *x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
