"""Loss functions with torch's reductions, weights and conventions."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["mse_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction (expected mean/sum/none)")


def _reduce(loss: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _check_same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` shape {tuple(a.shape)} and `{name_b}` shape {tuple(b.shape)} differ; "
            "torch would broadcast them, which is almost always a bug"
        )


def mse_loss(input: Any, target: Any, *, reduction: str = "mean") -> jax.Array:
    """Mean squared error (x − y)² (torch.nn.functional.mse_loss)."""
    _check_reduction(reduction)
    x, y = jnp.asarray(input), jnp.asarray(target)
    _check_same_shape("input", x, "target", y)
    return _reduce(jnp.square(x - y), reduction)
