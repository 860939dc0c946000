"""SGD with torch's momentum, dampening, Nesterov, weight decay and maximize (torch.optim.SGD).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _descent_grads, _lr_at, _zeros_like

__all__ = ["sgd", "SGDState"]


class SGDState(NamedTuple):
    """`momentum_buffer` as torch names it; `step` tells the first update (torch seeds the buffer
    with the first gradient instead of decaying from zero)."""

    step: jax.Array
    momentum_buffer: Any


def _check_sgd_args(lr, momentum, dampening, weight_decay, nesterov) -> None:
    """torch's SGD argument checks (numbers only; traced values pass)."""
    if isinstance(lr, (int, float)) and lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if isinstance(momentum, (int, float)) and momentum < 0.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if isinstance(weight_decay, (int, float)) and weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if (
        nesterov
        and isinstance(momentum, (int, float))
        and isinstance(dampening, (int, float))
        and (momentum <= 0 or dampening != 0)
    ):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


def sgd(
    lr: float | optax.Schedule = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    foreach: bool | None = None,
    differentiable: bool = False,
    fused: bool | None = None,
) -> optax.GradientTransformation:
    """torch.optim.SGD as an optax transformation (updates are the deltas to add to params).

    d = ±g + wd·p;  b = d on the first step, else μ·b + (1−τ)·d;  d = d + μ·b (Nesterov) or b;
    p ← p − lr·d.
    Differs from optax.sgd: the buffer starts at the first gradient (optax starts at zero, which
    differs when dampening ≠ 0) and weight decay is added to the gradient as torch does.
    `foreach`, `differentiable`, `fused` are accepted and ignored (torch kernel choices).
    """
    _check_sgd_args(lr if not callable(lr) else 0.0, momentum, dampening, weight_decay, nesterov)

    # Numeric hyperparameters may arrive as traced arrays (optax.inject_hyperparams), so the
    # maths below never branches on their values in Python.
    def init(params: Any) -> SGDState:
        return SGDState(step=jnp.zeros([], jnp.int32), momentum_buffer=_zeros_like(params))

    def update(grads: Any, state: SGDState, params: Any = None):
        if params is None:
            raise ValueError("sgd: update() needs `params` (for weight decay)")
        d = _descent_grads(grads, params, maximize, weight_decay)
        first = state.step == 0
        buf = jax.tree.map(
            lambda b, g: jnp.where(first, g, momentum * b + (1 - dampening) * g),
            state.momentum_buffer,
            d,
        )
        if nesterov:
            d = jax.tree.map(lambda g, b: g + momentum * b, d, buf)
        else:
            d = jax.tree.map(lambda g, b: jnp.where(momentum != 0, b, g), d, buf)
        step_lr = _lr_at(lr, state.step)
        updates = jax.tree.map(lambda g: -step_lr * g, d)
        return updates, SGDState(step=state.step + 1, momentum_buffer=buf)

    return optax.GradientTransformation(init, update)
