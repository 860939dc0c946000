"""Gradient clipping with torch's formulas (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

Differs from torch: the functions take the gradients (what `jtorch.grad` returns, or any dict of
arrays) instead of parameters, because JAX does not store gradients on parameters. The in-place
forms overwrite the dict's entries, as torch overwrites `.grad`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_by_norm"]


def _total_norm(leaves: list[jax.Array], norm_type: float) -> jax.Array:
    if not leaves:
        return jnp.zeros(())
    if norm_type == float("inf"):
        return jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in leaves]))
    norms = jnp.stack([jnp.linalg.norm(g.ravel(), ord=norm_type) for g in leaves])
    return jnp.linalg.norm(norms, ord=norm_type)


def clip_grads_by_norm(
    grads: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> tuple[Any, jax.Array]:
    """Pure form: `(clipped_grads, total_norm)` for any pytree of gradients.

    total = ‖(‖g₁‖, …, ‖gₙ‖)‖ₚ; every g is scaled by min(1, max_norm / (total + 1e-6)).
    """
    norm_type = float(norm_type)
    leaves = [jnp.asarray(g) for g in jax.tree.leaves(grads)]
    total = _total_norm(leaves, norm_type)
    if error_if_nonfinite and not isinstance(total, jax.core.Tracer):
        if not bool(jnp.isfinite(total)):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients is non-finite, so it cannot "
                "be clipped. To disable this error and scale the gradients by the non-finite "
                "norm anyway, set `error_if_nonfinite=False`"
            )
    coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
    clipped = jax.tree.map(lambda g: (g * coef).astype(jnp.asarray(g).dtype), grads)
    return clipped, total


def clip_grad_norm_(
    grads: MutableMapping[str, Any],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> jax.Array:
    """Scale all gradients so their joint p-norm is at most `max_norm`; returns the total norm.

    `grads` (a `jtorch.Grads` or any dict of arrays) is updated in place; `foreach` is ignored.
    """
    _check_mapping(grads, "clip_grad_norm_")
    clipped, total = clip_grads_by_norm(dict(grads), max_norm, norm_type, error_if_nonfinite)
    grads.update(clipped)
    return total


def clip_grad_value_(
    grads: MutableMapping[str, Any], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    _check_mapping(grads, "clip_grad_value_")
    clip_value = float(clip_value)
    for key, g in grads.items():
        grads[key] = jnp.clip(jnp.asarray(g), -clip_value, clip_value)


def _check_mapping(grads: Any, fn: str) -> None:
    if not isinstance(grads, MutableMapping):
        raise TypeError(
            f"{fn}: `grads` must be the gradients returned by jtorch.grad (a dict of arrays), "
            f"got {type(grads).__name__}; jtorch does not store gradients on parameters"
        )
