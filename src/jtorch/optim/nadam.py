"""NAdam: Adam with Nesterov momentum and momentum decay (torch.optim.NAdam)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim.optimizer import Optimizer
from jtorch.optim.radam import _check_betas, _check_nonneg, _lr_at, _one_minus_pow

__all__ = ["nadam", "NAdam", "NAdamState"]


class NAdamState(NamedTuple):
    """torch's per-parameter state: `step`, `mu_product` (∏ μᵢ, a scalar), `exp_avg`,
    `exp_avg_sq`."""

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
            mu_product=jnp.ones([], jnp.float32),
            exp_avg=jax.tree.map(jnp.zeros_like, params),
            exp_avg_sq=jax.tree.map(jnp.zeros_like, params),
        )

    def update(grads: Any, state: NAdamState, params: Any = None):
        if params is None:
            raise ValueError("nadam: update() needs `params` (for weight decay)")
        step_lr = _lr_at(lr, state.step)
        step = state.step + 1
        t = step.astype(jnp.float32)
        grads = jax.tree.map(lambda g: -g if maximize else g, grads)
        if not decoupled_weight_decay:
            grads = jax.tree.map(lambda g, p: g + weight_decay * p, grads, params)
        bc2 = _one_minus_pow(beta2, t)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = state.mu_product * mu
        exp_avg = jax.tree.map(lambda m, g: m + (1 - beta1) * (g - m), state.exp_avg, grads)
        exp_avg_sq = jax.tree.map(
            lambda v, g: v * beta2 + (1 - beta2) * g * g, state.exp_avg_sq, grads
        )
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


class NAdam(Optimizer):
    """torch.optim.NAdam: `NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)`.

    `foreach`, `capturable` and `differentiable` are accepted and ignored (no meaning under XLA).
    """

    _transform_factory = staticmethod(nadam)
    _hyperparams = ("lr", "eps", "weight_decay", "momentum_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        _check_nonneg(lr=lr, eps=eps)
        _check_betas(betas)
        _check_nonneg(weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)
