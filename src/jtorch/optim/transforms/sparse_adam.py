"""SparseAdam: Adam that moves only the entries with a gradient (torch.optim.SparseAdam).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _bias_correction, _lr_at, _scalar_dtype

__all__ = ["sparse_adam", "SparseAdamState"]


class SparseAdamState(NamedTuple):
    """torch's SparseAdam state: `step` (int32 here, a Python int in torch), `exp_avg`,
    `exp_avg_sq`."""

    step: jax.Array
    exp_avg: Any
    exp_avg_sq: Any


def _check_sparse_adam_args(lr, betas, eps) -> None:
    if isinstance(lr, (int, float)) and not 0.0 < lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if isinstance(eps, (int, float)) and not 0.0 < eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    for i in (0, 1):
        if isinstance(betas[i], (int, float)) and not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


def sparse_adam(
    lr: float | optax.Schedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.SparseAdam on dense gradients: Adam restricted to the entries where g ≠ 0.

    On those entries: m += (1−β₁)(g − m);  v += (1−β₂)(g² − v);
    p ← p − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε). Entries whose gradient is exactly zero keep their
    moments and values (torch's sparse gradient has no entry there); `step` counts every update.
    Differs from torch: gradients are dense arrays (JAX has no sparse gradients); the zero
    pattern plays the role of torch's sparse indices.
    """
    _check_sparse_adam_args(lr if not callable(lr) else 1.0, betas, eps)
    beta1, beta2 = betas

    def init(params: Any) -> SparseAdamState:
        return SparseAdamState(
            step=jnp.zeros([], jnp.int32),
            exp_avg=jax.tree.map(jnp.zeros_like, params),
            exp_avg_sq=jax.tree.map(jnp.zeros_like, params),
        )

    def update(grads: Any, state: SparseAdamState, params: Any = None):
        step = state.step + 1
        step_lr = _lr_at(lr, state.step)
        dtype = _scalar_dtype(grads)
        step_size = (
            step_lr
            * jnp.sqrt(_bias_correction(beta2, step, dtype))
            / _bias_correction(beta1, step, dtype)
        )

        def one(g, m, v):
            mask = g != 0
            g = -g if maximize else g
            dm = (g - m) * (1 - beta1)
            dv = (g * g - v) * (1 - beta2)
            new_m = dm + m
            new_v = dv + v
            delta = -step_size * (new_m / (jnp.sqrt(new_v) + eps))
            zero = jnp.zeros_like(delta)
            return (
                jnp.where(mask, delta, zero),
                jnp.where(mask, new_m, m),
                jnp.where(mask, new_v, v),
            )

        out = jax.tree.map(one, grads, state.exp_avg, state.exp_avg_sq)
        treedef = jax.tree.structure(grads)
        updates, exp_avg, exp_avg_sq = (
            jax.tree.unflatten(treedef, [leaf[i] for leaf in treedef.flatten_up_to(out)])
            for i in range(3)
        )
        return updates, SparseAdamState(step, exp_avg, exp_avg_sq)

    return optax.GradientTransformation(init, update)
