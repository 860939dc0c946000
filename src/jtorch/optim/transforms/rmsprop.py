"""RMSprop (torch.optim.RMSprop).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import (
    _descent_grads,
    _lerp_moment,
    _lr_at,
    _zeros_like,
)

__all__ = ["rmsprop", "RMSpropState"]


class RMSpropState(NamedTuple):
    """torch's per-parameter state: `step`, `square_avg`, `momentum_buffer` (torch keeps it only
    when momentum > 0; here it is always present and stays exact when momentum = 0) and
    `grad_avg` (only with `centered`, else None)."""

    step: jax.Array
    square_avg: Any
    momentum_buffer: Any
    grad_avg: Any


def rmsprop(
    lr: float | optax.Schedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.RMSprop as an optax transformation (updates are deltas to add to params).

    g ← ±g + wd·p;  v ← αv + (1−α)g²;  a = √(v − ḡ²) + ε with ḡ ← αḡ + (1−α)g (centered) or
    √v + ε;  b ← μb + g/a;  p ← p − lr·b.
    Differs from optax.rmsprop: ε is added outside the square root, and v starts at zero.
    `alpha` is static (a Python float, like Adam's betas): torch weights both averages by
    `1 − alpha` computed in float64, and a float32 `alpha` would put a relative error of up to
    1e-6 into that weight, which the centered `v − ḡ²` amplifies.
    """

    def init(params: Any) -> RMSpropState:
        return RMSpropState(
            jnp.zeros([], jnp.int32),
            _zeros_like(params),
            _zeros_like(params),
            _zeros_like(params) if centered else None,
        )

    def update(grads: Any, state: RMSpropState, params: Any = None):
        if params is None:
            raise ValueError("rmsprop: update() needs `params` (for weight decay)")
        step_lr = _lr_at(lr, state.step)
        grads = _descent_grads(grads, params, maximize, weight_decay)
        # (1−α)·g·g first: XLA:CPU fuses the first product of a sum into the add, as torch's
        # addcmul_ fuses (1−α)·g·g into αv (one rounding, same bits)
        square_avg = jax.tree.map(
            lambda v, g: (1 - alpha) * g * g + v * alpha, state.square_avg, grads
        )
        grad_avg = None
        if centered:
            grad_avg = _lerp_moment(state.grad_avg, grads, alpha)
            avg = jax.tree.map(lambda v, m: jnp.sqrt(v - m * m) + eps, square_avg, grad_avg)
        else:
            avg = jax.tree.map(lambda v: jnp.sqrt(v) + eps, square_avg)
        buf = jax.tree.map(lambda b, g, a: momentum * b + g / a, state.momentum_buffer, grads, avg)
        updates = jax.tree.map(lambda b, p: (-step_lr * b).astype(p.dtype), buf, params)
        return updates, RMSpropState(state.step + 1, square_avg, buf, grad_avg)

    return optax.GradientTransformation(init, update)
