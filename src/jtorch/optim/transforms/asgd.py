"""Averaged SGD (torch.optim.ASGD).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _check_nonneg, _descent_grads, _lr_at, _scalar_dtype, _zeros_like

__all__ = ["asgd", "ASGDState"]


class ASGDState(NamedTuple):
    """torch's ASGD state: `step` (int32 here, a float tensor in torch), the step size `eta`, the
    averaging rate `mu` and the averaged parameters `ax` (`eta`, `mu`: scalars in the
    parameters' scalar dtype, float32 or float64)."""

    step: jax.Array
    eta: jax.Array
    mu: jax.Array
    ax: Any


def asgd(
    lr: float | optax.Schedule = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    foreach: bool | None = None,
    maximize: bool = False,
    differentiable: bool = False,
    capturable: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.ASGD as an optax transformation (updates are the deltas to add to params).

    g = ±g + wd·p;  p ← p·(1 − λη) − η·g;  ax ← p if μ = 1 else ax + μ(p − ax);
    then η = lr/(1 + λ·lr·t)^α and μ = 1/max(1, t − t0). η starts at lr (the first step's lr).
    `foreach`, `differentiable`, `capturable` are accepted and ignored.
    """
    _check_nonneg(lr=lr if not callable(lr) else 0.0, weight_decay=weight_decay)

    def init(params: Any) -> ASGDState:
        dtype = _scalar_dtype(params)
        return ASGDState(
            step=jnp.zeros([], jnp.int32),
            eta=jnp.zeros([], dtype),  # set to lr at the first step, as torch's lazy init
            mu=jnp.ones([], dtype),
            ax=_zeros_like(params),
        )

    def update(grads: Any, state: ASGDState, params: Any = None):
        if params is None:
            raise ValueError("asgd: update() needs `params`")
        dtype = state.eta.dtype
        step_lr = jnp.asarray(_lr_at(lr, state.step), dtype)
        eta = jnp.where(state.step == 0, step_lr, state.eta)
        mu = state.mu
        step = state.step + 1
        grads = _descent_grads(grads, params, maximize, weight_decay)
        new_params = jax.tree.map(lambda p, g: p * (1 - lambd * eta) - eta * g, params, grads)
        ax = jax.tree.map(
            lambda a, p: jnp.where(mu == 1, p, a + (p - a) * mu), state.ax, new_params
        )
        t = step.astype(dtype)
        new_eta = step_lr / (1 + lambd * step_lr * t) ** alpha
        new_mu = 1 / jnp.maximum(1.0, t - t0)
        updates = jax.tree.map(lambda n, p: n - p, new_params, params)
        state = ASGDState(step, new_eta.astype(dtype), new_mu.astype(dtype), ax)
        return updates, state

    return optax.GradientTransformation(init, update)
