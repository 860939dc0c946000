"""RAdam: Adam with variance rectification (torch.optim.RAdam).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import (
    _bias_correction,
    _check_betas,
    _descent_grads,
    _lerp_moment,
    _lr_at,
    _scalar_dtype,
    _sq_moment,
    _zeros_like,
)

__all__ = ["radam", "RAdamState"]


class RAdamState(NamedTuple):
    """torch's per-parameter state: `step`, `exp_avg`, `exp_avg_sq`."""

    step: jax.Array
    exp_avg: Any
    exp_avg_sq: Any


def _log(beta: Any) -> Any:
    """log β in double precision when β is a Python number (β close to 1 loses digits in f32)."""
    return math.log(beta) if isinstance(beta, (int, float)) else jnp.log(beta)


def _rho(beta2: Any, t: jax.Array) -> jax.Array:
    """ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ), written as K + (2/c)·(1 − x/(eˣ−1)) with c = −log β₂, x = tc, so
    float32 keeps the digits torch gets in double (the two terms nearly cancel)."""
    c = -_log(beta2)
    k = 2 / (1 - beta2) - 2 / c - 1
    x = t * c
    series = x / 2 - x**2 / 12 + x**4 / 720 - x**6 / 30240 + x**8 / 1209600
    xl = jnp.maximum(x, 0.1)
    direct = 1 - xl * jnp.exp(-xl) / -jnp.expm1(-xl)
    return k + (2 / c) * jnp.where(x < 0.1, series, direct)


def radam(
    lr: float | optax.Schedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.RAdam as an optax transformation (updates are deltas to add to params).

    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  ρ∞ = 2/(1−β₂) − 1;  ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ);
    p ← p − lr·m̂·r·√(1−β₂ᵗ)/(√v + ε) when ρₜ > 5 (r the rectification term), else p − lr·m̂.
    Weight decay is added to g, or with `decoupled_weight_decay` applied as p ← p(1 − lr·wd).
    """
    _check_betas(betas)
    beta1, beta2 = betas

    def init(params: Any) -> RAdamState:
        return RAdamState(jnp.zeros([], jnp.int32), _zeros_like(params), _zeros_like(params))

    def update(grads: Any, state: RAdamState, params: Any = None):
        if params is None:
            raise ValueError("radam: update() needs `params` (for weight decay)")
        step_lr = _lr_at(lr, state.step)
        step = state.step + 1
        t = step.astype(_scalar_dtype(params))
        l2 = None if decoupled_weight_decay else weight_decay
        grads = _descent_grads(grads, params, maximize, l2)
        exp_avg = _lerp_moment(state.exp_avg, grads, beta1)
        exp_avg_sq = _sq_moment(state.exp_avg_sq, grads, beta2)
        bc1 = _bias_correction(beta1, t, t.dtype)
        bc2 = _bias_correction(beta2, t, t.dtype)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = _rho(beta2, t)
        rectify = rho_t > 5.0
        rect_sq = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        rect = jnp.sqrt(jnp.where(rectify, rect_sq, 1.0))

        def delta(m, v, p):
            adaptive = jnp.where(rectify, jnp.sqrt(bc2) / (jnp.sqrt(v) + eps) * rect, 1.0)
            d = -((m / bc1) * step_lr * adaptive)
            if decoupled_weight_decay:
                d = d - step_lr * weight_decay * p
            return d.astype(p.dtype)

        updates = jax.tree.map(delta, exp_avg, exp_avg_sq, params)
        return updates, RAdamState(step, exp_avg, exp_avg_sq)

    return optax.GradientTransformation(init, update)
