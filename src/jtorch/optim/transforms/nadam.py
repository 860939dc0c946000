"""NAdam: Adam with Nesterov momentum and momentum decay (torch.optim.NAdam).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

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

__all__ = ["nadam", "NAdamState"]


class NAdamState(NamedTuple):
    """torch's per-parameter state: `step`, `mu_product` (∏ μᵢ, a scalar in the parameters'
    scalar dtype), `exp_avg`, `exp_avg_sq`."""

    step: jax.Array
    mu_product: jax.Array
    exp_avg: Any
    exp_avg_sq: Any


def nadam(
    lr: float | optax.Schedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.NAdam as an optax transformation (updates are deltas to add to params).

    μₜ = β₁(1 − ½·0.96^(t·ψ));  Πₜ = Πₜ₋₁μₜ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    p ← p − lr·(1−μₜ)/(1−Πₜ)·g/d − lr·μₜ₊₁/(1−Πₜμₜ₊₁)·m/d,  d = √(v/(1−β₂ᵗ)) + ε.
    Weight decay is added to g, or with `decoupled_weight_decay` applied as p ← p(1 − lr·wd).
    Differs from optax.nadam: torch's momentum schedule μₜ and its running product.
    """
    _check_betas(betas)
    beta1, beta2 = betas

    def init(params: Any) -> NAdamState:
        return NAdamState(
            step=jnp.zeros([], jnp.int32),
            mu_product=jnp.ones([], _scalar_dtype(params)),
            exp_avg=_zeros_like(params),
            exp_avg_sq=_zeros_like(params),
        )

    def update(grads: Any, state: NAdamState, params: Any = None):
        if params is None:
            raise ValueError("nadam: update() needs `params` (for weight decay)")
        step_lr = _lr_at(lr, state.step)
        step = state.step + 1
        t = step.astype(_scalar_dtype(params))
        l2 = None if decoupled_weight_decay else weight_decay
        grads = _descent_grads(grads, params, maximize, l2)
        bc2 = _bias_correction(beta2, t, t.dtype)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = state.mu_product * mu
        exp_avg = _lerp_moment(state.exp_avg, grads, beta1)
        exp_avg_sq = _sq_moment(state.exp_avg_sq, grads, beta2)
        coef_g = -step_lr * (1.0 - mu) / (1.0 - mu_product)
        coef_m = -step_lr * mu_next / (1.0 - mu_product * mu_next)

        def delta(g, m, v, p):
            denom = jnp.sqrt(v / bc2) + eps
            d = coef_g * (g / denom) + coef_m * (m / denom)
            if decoupled_weight_decay:
                d = d - step_lr * weight_decay * p
            return d.astype(p.dtype)

        updates = jax.tree.map(delta, grads, exp_avg, exp_avg_sq, params)
        return updates, NAdamState(step, mu_product, exp_avg, exp_avg_sq)

    return optax.GradientTransformation(init, update)
