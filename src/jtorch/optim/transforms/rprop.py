"""Rprop: resilient backpropagation (torch.optim.Rprop).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _zeros_like

__all__ = ["rprop", "RpropState"]


class RpropState(NamedTuple):
    """torch's per-parameter state: `step`, `prev` (last gradient, zeroed where its sign
    flipped) and `step_size` (per element, starting at lr)."""

    step: jax.Array
    prev: Any
    step_size: Any


def _check_etas(etas: Any) -> None:
    if all(isinstance(e, (int, float)) for e in etas) and not 0.0 < etas[0] < 1.0 < etas[1]:
        raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")


def rprop(
    lr: float = 1e-2,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50),
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.Rprop as an optax transformation (updates are deltas to add to params).

    s = sign(g·prev);  η ← η·η₊ where s > 0, η·η₋ where s < 0 (and g ← 0 there), clipped to
    `step_sizes`;  p ← p − sign(g)·η;  prev ← g.  η starts at `lr` (lr is read only at init).
    Differs from optax.scale_by_rprop: the step size is updated before it is used, as torch
    does (optax applies it one step late), and it starts at lr.
    """
    _check_etas(etas)
    etaminus, etaplus = etas
    size_min, size_max = step_sizes

    def init(params: Any) -> RpropState:
        return RpropState(
            step=jnp.zeros([], jnp.int32),
            prev=_zeros_like(params),
            step_size=jax.tree.map(lambda p: jnp.full_like(p, lr), params),
        )

    def update(grads: Any, state: RpropState, params: Any = None):
        grads = jax.tree.map(lambda g: -g if maximize else g, grads)
        sign = jax.tree.map(lambda g, q: jnp.sign(g * q), grads, state.prev)
        factor = jax.tree.map(
            lambda s: jnp.where(s > 0, etaplus, jnp.where(s < 0, etaminus, 1.0)), sign
        )
        step_size = jax.tree.map(
            lambda eta, f: jnp.clip(eta * f, size_min, size_max).astype(eta.dtype),
            state.step_size,
            factor,
        )
        grads = jax.tree.map(lambda g, s: jnp.where(s < 0, 0, g), grads, sign)
        updates = jax.tree.map(lambda g, eta: -jnp.sign(g) * eta, grads, step_size)
        return updates, RpropState(state.step + 1, grads, step_size)

    return optax.GradientTransformation(init, update)
