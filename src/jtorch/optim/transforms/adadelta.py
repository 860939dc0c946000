"""Adadelta (torch.optim.Adadelta).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _check_nonneg, _descent_grads, _lr_at, _sq_moment, _zeros_like

__all__ = ["adadelta", "AdadeltaState"]


class AdadeltaState(NamedTuple):
    """torch's Adadelta state: `step` (int32 here, a float tensor in torch), `square_avg`,
    `acc_delta`."""

    step: jax.Array
    square_avg: Any
    acc_delta: Any


def _check_adadelta_args(lr, rho, eps, weight_decay) -> None:
    """torch's Adadelta checks, in its order (numbers only; traced values pass)."""
    _check_nonneg(lr=lr)
    if isinstance(rho, (int, float)) and not 0.0 <= rho <= 1.0:
        raise ValueError(f"Invalid rho value: {rho}")
    _check_nonneg(eps=eps, weight_decay=weight_decay)


def adadelta(
    lr: float | optax.Schedule = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    foreach: bool | None = None,
    *,
    capturable: bool = False,
    maximize: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.Adadelta as an optax transformation (updates are the deltas to add to params).

    g = ±g + wd·p;  v = ρv + (1−ρ)g²;  δ = √(a + ε)/√(v + ε) · g;  a = ρa + (1−ρ)δ²;  p ← p − lr·δ.
    `foreach`, `capturable`, `differentiable` are accepted and ignored.
    """
    _check_adadelta_args(lr if not callable(lr) else 0.0, rho, eps, weight_decay)

    def init(params: Any) -> AdadeltaState:
        return AdadeltaState(
            step=jnp.zeros([], jnp.int32),
            square_avg=_zeros_like(params),
            acc_delta=_zeros_like(params),
        )

    def update(grads: Any, state: AdadeltaState, params: Any = None):
        if params is None:
            raise ValueError("adadelta: update() needs `params` (for weight decay)")
        step_lr = _lr_at(lr, state.step)
        grads = _descent_grads(grads, params, maximize, weight_decay)
        square_avg = _sq_moment(state.square_avg, grads, rho)
        delta = jax.tree.map(
            lambda a, v, g: jnp.sqrt(a + eps) / jnp.sqrt(v + eps) * g,
            state.acc_delta,
            square_avg,
            grads,
        )
        acc_delta = _sq_moment(state.acc_delta, delta, rho)
        updates = jax.tree.map(lambda d: -step_lr * d, delta)
        return updates, AdadeltaState(state.step + 1, square_avg, acc_delta)

    return optax.GradientTransformation(init, update)
