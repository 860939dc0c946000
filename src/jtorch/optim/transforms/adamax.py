"""Adamax: Adam with an infinity-norm second moment (torch.optim.Adamax).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import (
    _bias_correction,
    _check_adam_args,
    _descent_grads,
    _lerp_moment,
    _lr_at,
    _scalar_dtype,
    _zeros_like,
)

__all__ = ["adamax", "AdamaxState"]


class AdamaxState(NamedTuple):
    """torch's Adamax state: `step` (int32 here, a float tensor in torch), `exp_avg`, `exp_inf`."""

    step: jax.Array
    exp_avg: Any
    exp_inf: Any


def adamax(
    lr: float | optax.Schedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    foreach: bool | None = None,
    *,
    maximize: bool = False,
    differentiable: bool = False,
    capturable: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.Adamax as an optax transformation (updates are the deltas to add to params).

    g = ±g + wd·p;  m = lerp(m, g, 1−β₁);  u = max(β₂·u, |g| + ε);  p ← p − lr/(1−β₁ᵗ) · m/u.
    Differs from optax.adamax: ε is added to |g| inside the max (optax adds it to u afterwards).
    `betas` is static; `foreach`, `differentiable`, `capturable` are accepted and ignored.
    """
    _check_adam_args(lr if not callable(lr) else 0.0, betas, eps, weight_decay)
    beta1, beta2 = betas

    def init(params: Any) -> AdamaxState:
        return AdamaxState(
            step=jnp.zeros([], jnp.int32),
            exp_avg=_zeros_like(params),
            exp_inf=_zeros_like(params),
        )

    def update(grads: Any, state: AdamaxState, params: Any = None):
        if params is None:
            raise ValueError("adamax: update() needs `params` (for weight decay)")
        step = state.step + 1
        step_lr = _lr_at(lr, state.step)
        grads = _descent_grads(grads, params, maximize, weight_decay)
        exp_avg = _lerp_moment(state.exp_avg, grads, beta1)
        exp_inf = jax.tree.map(
            lambda u, g: jnp.maximum(u * beta2, jnp.abs(g) + eps), state.exp_inf, grads
        )
        clr = step_lr / _bias_correction(beta1, step, _scalar_dtype(params))
        updates = jax.tree.map(lambda m, u: -clr * (m / u), exp_avg, exp_inf)
        return updates, AdamaxState(step, exp_avg, exp_inf)

    return optax.GradientTransformation(init, update)
