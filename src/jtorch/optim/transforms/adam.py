"""Adam with torch's L2 or decoupled weight decay, AMSGrad and maximize (torch.optim.Adam).

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
    _sq_moment,
    _zeros_like,
)

__all__ = ["adam", "AdamState"]


class AdamState(NamedTuple):
    """torch's Adam state: `step` (int32 here, a float tensor in torch), `exp_avg`, `exp_avg_sq`,
    and `max_exp_avg_sq` (None unless amsgrad)."""

    step: jax.Array
    exp_avg: Any
    exp_avg_sq: Any
    max_exp_avg_sq: Any


def adam(
    lr: float | optax.Schedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
    capturable: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.Adam as an optax transformation (updates are the deltas to add to params).

    g = ±g (+ wd·p unless decoupled);  m = lerp(m, g, 1−β₁);  v = β₂v + (1−β₂)g²;
    v̂ = max(v̂, v) with amsgrad;  p ← p·(1 − lr·wd if decoupled) − lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε).
    `betas` is static (a Python tuple); `foreach`, `capturable`, `differentiable`, `fused` are
    accepted and ignored (torch kernel choices).
    """
    _check_adam_args(lr if not callable(lr) else 0.0, betas, eps, weight_decay)
    beta1, beta2 = betas

    def init(params: Any) -> AdamState:
        return AdamState(
            step=jnp.zeros([], jnp.int32),
            exp_avg=_zeros_like(params),
            exp_avg_sq=_zeros_like(params),
            max_exp_avg_sq=_zeros_like(params) if amsgrad else None,
        )

    def update(grads: Any, state: AdamState, params: Any = None):
        if params is None:
            raise ValueError("adam: update() needs `params` (for weight decay)")
        step = state.step + 1
        step_lr = _lr_at(lr, state.step)
        l2 = None if decoupled_weight_decay else weight_decay
        grads = _descent_grads(grads, params, maximize, l2)
        exp_avg = _lerp_moment(state.exp_avg, grads, beta1)
        exp_avg_sq = _sq_moment(state.exp_avg_sq, grads, beta2)
        if amsgrad:
            max_sq = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, exp_avg_sq)
            second = max_sq
        else:
            max_sq = None
            second = exp_avg_sq
        dtype = _scalar_dtype(params)
        step_size = step_lr / _bias_correction(beta1, step, dtype)
        bc2_sqrt = jnp.sqrt(_bias_correction(beta2, step, dtype))

        def new_delta(p, m, v):
            adam_step = step_size * m / (jnp.sqrt(v) / bc2_sqrt + eps)
            if decoupled_weight_decay:
                return (p * (1 - step_lr * weight_decay) - adam_step) - p
            return -adam_step

        updates = jax.tree.map(new_delta, params, exp_avg, second)
        return updates, AdamState(step, exp_avg, exp_avg_sq, max_sq)

    return optax.GradientTransformation(init, update)
