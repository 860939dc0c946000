"""Adafactor with torch's relative step size, factored second moment and update clipping
(torch.optim.Adafactor).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _lerp, _lr_at

__all__ = ["adafactor", "AdafactorState"]


class AdafactorState(NamedTuple):
    """torch's Adafactor state: `step` (int32 here, a float tensor in torch); for a parameter of
    two or more dimensions the factored `row_var` (shape `(..., m, 1)`) and `col_var`
    (`(..., 1, n)`), else `variance` (the parameter's shape). A field is None where torch keeps
    no such key (in a pytree, at the leaves it does not apply to)."""

    step: jax.Array
    row_var: Any
    col_var: Any
    variance: Any


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _check_adafactor_args(lr: Any, beta2_decay: Any, eps: Any, d: Any, weight_decay: Any) -> None:
    """torch's checks, in its order and with its messages (traced values pass)."""
    if _is_number(lr) and not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if _is_number(beta2_decay) and not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if not isinstance(eps, (tuple, list)) or len(eps) != 2:
        raise ValueError(f"eps should be a pair (eps1 or None, eps2) but is: {eps!r}")
    if eps[0] is not None and not 0.0 <= eps[0]:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
    if not 0.0 <= eps[1]:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
    if _is_number(d) and not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if _is_number(weight_decay) and not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")


def _rms(x: jax.Array) -> jax.Array:
    """‖x‖₂ / √numel, as torch writes it (`x.norm(2) / numel ** 0.5`)."""
    return jnp.linalg.norm(x.ravel()) / math.sqrt(max(x.size, 1))


def _mean_square(g: jax.Array, axis: int) -> jax.Array:
    """mean(g², axis) kept as a size-1 axis, in torch's form ‖g‖²/n along `axis`."""
    return jnp.square(jnp.linalg.norm(g, axis=axis, keepdims=True)) / g.shape[axis]


def adafactor(
    lr: float | optax.Schedule = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """torch.optim.Adafactor as an optax transformation (updates are the deltas to add to params).

    At step t:  β̂ = 1 − t^τ (τ = beta2_decay);  ρ = min(lr, 1/√t);  α = max(ε₂, RMS(p))·ρ;
    p ← p·(1 − lr·wd);  for ≥ 2-D: R ← lerp(R, mean(g², −1), 1 − β̂), C ← lerp(C, mean(g², −2),
    1 − β̂), V = R·C / max(mean(R, −2), ε₁), else V ← lerp(V, g², 1 − β̂);
    U = g / √max(V, ε₁²);  p ← p − α / max(1, RMS(U)/d) · U.
    ε₁ = None takes the parameter dtype's machine epsilon. `eps` is static (a Python pair);
    `foreach` is accepted and ignored.
    """
    _check_adafactor_args(lr if not callable(lr) else 0.0, beta2_decay, eps, d, weight_decay)
    eps1, eps2 = eps

    def init(params: Any) -> AdafactorState:
        def factor(p: Any, axis: int) -> jax.Array | None:
            p = jnp.asarray(p)
            if p.ndim < 2:
                return None
            shape = list(p.shape)
            shape[axis] = 1
            return jnp.zeros(shape, p.dtype)

        return AdafactorState(
            step=jnp.zeros([], jnp.int32),
            row_var=jax.tree.map(lambda p: factor(p, -1), params),
            col_var=jax.tree.map(lambda p: factor(p, -2), params),
            variance=jax.tree.map(lambda p: jnp.zeros_like(p) if jnp.ndim(p) < 2 else None, params),
        )

    def update(grads: Any, state: AdafactorState, params: Any = None):
        if params is None:
            raise ValueError("adafactor: update() needs `params` (for the relative step size)")
        step_lr = _lr_at(lr, state.step)
        step = state.step + 1
        t = jnp.asarray(step, jnp.float32)
        one_minus_beta2 = t**beta2_decay
        rho = jnp.minimum(step_lr, 1 / jnp.sqrt(t))

        def leaf(p, g, row_var, col_var, variance):
            g = -g if maximize else g
            e1 = float(jnp.finfo(p.dtype).eps) if eps1 is None else eps1
            alpha = jnp.maximum(eps2, _rms(p)) * rho
            decayed = p * (1 - step_lr * weight_decay)
            if p.ndim >= 2:
                row_var = _lerp(row_var, _mean_square(g, -1), one_minus_beta2)
                col_var = _lerp(col_var, _mean_square(g, -2), one_minus_beta2)
                # (..., m, 1)·(..., 1, n): torch's `row_var @ col_var`, one product per entry
                var = row_var * col_var / jnp.maximum(row_var.mean(axis=-2, keepdims=True), e1)
            else:
                variance = _lerp(variance, g * g, one_minus_beta2)
                var = variance
            u = jax.lax.rsqrt(jnp.maximum(var, e1 * e1)) * g
            denom = jnp.maximum(1.0, _rms(u) / d)
            new = decayed + (-alpha / denom) * u
            return (new - p).astype(p.dtype), row_var, col_var, variance

        out = jax.tree.map(leaf, params, grads, state.row_var, state.col_var, state.variance)
        treedef = jax.tree.structure(params)
        updates, row_var, col_var, variance = (
            treedef.unflatten(parts) for parts in zip(*treedef.flatten_up_to(out))
        )
        return updates, AdafactorState(step, row_var, col_var, variance)

    return optax.GradientTransformation(init, update)
