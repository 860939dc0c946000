"""Pieces shared by the optimizers: torch's argument checks, its per-element moment updates and
the scalar maths (learning rate at a step, bias corrections, the scalar dtype).

The moment updates keep torch's exact operation order (its CPU kernels), because several
optimizers match torch bit for bit.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonneg(**values: Any) -> None:
    """torch's `Invalid <what>: <value>` check that each number is ≥ 0 (traced values pass)."""
    for name, value in values.items():
        if isinstance(value, (int, float)) and not 0.0 <= value:
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {value}")


def _check_betas(betas: Any) -> None:
    """torch's check that betas[0] and betas[1] lie in [0, 1) (traced values pass)."""
    for i in (0, 1):
        if isinstance(betas[i], (int, float)) and not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")


def _check_adam_args(lr: Any, betas: Any, eps: Any, weight_decay: Any) -> None:
    """The checks torch's Adam family runs, in its order: lr, eps, betas, weight_decay."""
    _check_nonneg(lr=lr, eps=eps)
    _check_betas(betas)
    _check_nonneg(weight_decay=weight_decay)


def _zeros_like(params: Any) -> Any:
    """A zero state tree shaped like `params`."""
    return jax.tree.map(jnp.zeros_like, params)


def _descent_grads(grads: Any, params: Any, maximize: bool, weight_decay: Any) -> Any:
    """±g (negated with `maximize`) plus the L2 term wd·p; `weight_decay=None` adds no term
    (the optimizers that decay decoupled, on the parameters)."""
    if weight_decay is None:
        return jax.tree.map(lambda g: -g if maximize else g, grads)
    return jax.tree.map(lambda g, p: (-g if maximize else g) + weight_decay * p, grads, params)


def _lerp(start: Any, end: Any, weight: Any) -> Any:
    """torch.lerp with a scalar weight, in torch's CPU formula, which switches at weight 0.5
    (a Python weight picks the branch when tracing, a traced one inside the program)."""
    low = lambda: start + weight * (end - start)  # noqa: E731
    high = lambda: end - (end - start) * (1 - weight)  # noqa: E731
    if isinstance(weight, numbers.Real):
        return low() if weight < 0.5 else high()
    return jnp.where(weight < 0.5, low(), high())


def _lerp_moment(avg: Any, grads: Any, beta: Any) -> Any:
    """m ← torch.lerp(m, g, 1 − β), as torch's Adam, Adamax, RAdam, NAdam and centered RMSprop
    update their running averages."""
    return jax.tree.map(lambda m, g: _lerp(m, g, 1 - beta), avg, grads)


def _sq_moment(avg: Any, grads: Any, beta: Any) -> Any:
    """v ← v·β + (1 − β)·g·g: torch's `v.mul_(β).addcmul_(g, g, value=1 − β)`."""
    return jax.tree.map(lambda v, g: v * beta + (1 - beta) * g * g, avg, grads)


def _lr_at(lr: Any, count: jax.Array) -> Any:
    """The learning rate for the update numbered `count` (0-based): a constant or optax schedule."""
    return lr(count) if callable(lr) else lr


def _bias_correction(beta: Any, step: jax.Array, dtype: Any) -> jax.Array:
    """1 − βᵗ in `dtype` (the parameters' scalar dtype, `_scalar_dtype`), accurate in float32 for
    β near 1 (−expm1(t·log β); torch computes it in float64)."""
    if isinstance(beta, numbers.Real):
        log_beta = math.log(beta) if beta > 0 else -math.inf
    else:
        log_beta = jnp.log(beta)
    return -jnp.expm1(jnp.asarray(step, dtype) * log_beta)


def _scalar_dtype(tree: Any) -> Any:
    """The dtype of an optimizer's scalar maths (bias corrections, step counts as floats,
    hyperparameters) for the arrays in `tree`: float32, or float64 when a leaf is float64 (with
    `jax_enable_x64`), as torch computes its scalars in double. Lower precisions stay float32."""
    dtypes = [jnp.result_type(x) for x in jax.tree.leaves(tree)]
    return jnp.result_type(jnp.float32, *[d for d in dtypes if jnp.issubdtype(d, jnp.floating)])


def _to_array(value: Any) -> jax.Array:
    """A jax array from a jax/numpy array, a number, or a (CPU, detached) torch tensor."""
    if isinstance(value, jax.Array):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor, without importing torch
        value = value.detach().cpu().numpy()
    return jnp.asarray(np.asarray(value))
