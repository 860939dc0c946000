"""Adagrad with torch's lr decay, initial accumulator and weight decay (torch.optim.Adagrad).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _check_nonneg, _descent_grads, _lr_at, _scalar_dtype

__all__ = ["adagrad", "AdagradState"]


class AdagradState(NamedTuple):
    """torch's Adagrad state: `step` (int32 here, a float tensor in torch) and `sum`."""

    step: jax.Array
    sum: Any


def _check_adagrad_args(lr, lr_decay, weight_decay, initial_accumulator_value, eps) -> None:
    """torch's Adagrad checks, in its order (numbers only; traced values pass)."""
    _check_nonneg(
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        initial_accumulator_value=initial_accumulator_value,
        eps=eps,
    )


def adagrad(
    lr: float | optax.Schedule = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    foreach: bool | None = None,
    *,
    maximize: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
) -> optax.GradientTransformation:
    """torch.optim.Adagrad as an optax transformation (updates are the deltas to add to params).

    g = ±g + wd·p;  s = s + g²;  p ← p − lr/(1 + (t−1)·lr_decay) · g/(√s + ε).
    Differs from optax.adagrad: ε is added after the square root and the accumulator starts at
    `initial_accumulator_value` (optax: √(s + ε), starting at 0.1).
    `foreach`, `differentiable`, `fused` are accepted and ignored.
    """
    _check_adagrad_args(
        lr if not callable(lr) else 0.0, lr_decay, weight_decay, initial_accumulator_value, eps
    )

    def init(params: Any) -> AdagradState:
        return AdagradState(
            step=jnp.zeros([], jnp.int32),
            sum=jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params),
        )

    def update(grads: Any, state: AdagradState, params: Any = None):
        if params is None:
            raise ValueError("adagrad: update() needs `params` (for weight decay)")
        step = state.step + 1
        step_lr = _lr_at(lr, state.step)
        grads = _descent_grads(grads, params, maximize, weight_decay)
        clr = step_lr / (1 + (step - 1).astype(_scalar_dtype(params)) * lr_decay)
        total = jax.tree.map(lambda s, g: s + g * g, state.sum, grads)
        updates = jax.tree.map(lambda g, s: -clr * (g / (jnp.sqrt(s) + eps)), grads, total)
        return updates, AdagradState(step, total)

    return optax.GradientTransformation(init, update)
