"""Muon: momentum orthogonalised by a Newton–Schulz iteration, for 2-D parameters
(torch.optim.Muon).

The pure optax form: it imports no optimizer facade and works with optax alone.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jtorch.optim._common import _lerp, _lr_at, _zeros_like

__all__ = ["muon", "MuonState"]


# torch's defaults (torch/optim/_muon.py, after Keller Jordan's Muon)
EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


class MuonState(NamedTuple):
    """torch's Muon state, `momentum_buffer`, and the number of updates made, `step` (torch keeps
    no count; it is here so that a parameter never stepped has no torch state)."""

    step: jax.Array
    momentum_buffer: Any


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def _check_muon_args(
    lr: Any,
    weight_decay: Any,
    momentum: Any,
    ns_coefficients: Any,
    ns_steps: Any,
    adjust_lr_fn: Any,
) -> None:
    """torch's constructor checks with its messages, then the ones torch makes only inside
    `step()` (Newton–Schulz steps and coefficients), made here at once."""
    if _is_number(lr) and not 0.0 <= lr:
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if _is_number(momentum) and not 0.0 <= momentum:
        raise ValueError(f"momentum should be >= 0 but is: {momentum}")
    if _is_number(weight_decay) and not 0.0 <= weight_decay:
        raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn not in ADJUST_LR_FNS:
        raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
    if not isinstance(ns_steps, int) or ns_steps >= 100:
        raise ValueError(
            f"Number of steps must be less than 100 for computational efficiency (ns_steps: "
            f"expected an int below 100, got {ns_steps!r})"
        )
    if len(ns_coefficients) != 3:
        raise ValueError(
            f"Coefficients must be a tuple of exactly 3 values (ns_coefficients: "
            f"{ns_coefficients!r})"
        )


def _check_2d(params: Any, who: str) -> None:
    for path, p in jax.tree_util.tree_flatten_with_path(params)[0]:
        if jnp.ndim(p) != 2:
            raise ValueError(
                f"{who} only supports 2D parameters whereas we found a parameter with size: "
                f"{tuple(jnp.shape(p))}{' at ' + jax.tree_util.keystr(path) if path else ''}"
            )


def _bf16_mm(a: jax.Array, b: jax.Array) -> jax.Array:
    """a @ b of bfloat16 matrices, accumulated and returned in float32."""
    return jnp.matmul(a, b, preferred_element_type=jnp.float32, precision="highest")


def _zeropower_via_newtonschulz(
    grad: jax.Array, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: Any
) -> jax.Array:
    """torch's quintic Newton–Schulz orthogonalisation of a 2-D `grad`, in bfloat16:
    X = G/max(‖G‖, ε) (transposed when tall);  k times: A = XXᵀ, B = b·A + c·A², X = a·X + B·X.

    Rounded to bfloat16 where torch's bfloat16 tensors are: each matrix product accumulates in
    float32 and `addmm`'s β·M + α·(A@B) is formed in float32 before its one rounding.
    """
    a, b, c = ns_coefficients
    bf16, f32 = jnp.bfloat16, jnp.float32
    x = grad.astype(bf16)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    norm = jnp.sqrt(jnp.sum(jnp.square(x.astype(f32)))).astype(bf16)
    norm = jnp.maximum(norm, jnp.asarray(eps, f32).astype(bf16))
    x = (x.astype(f32) / norm.astype(f32)).astype(bf16)
    for _ in range(ns_steps):
        gram = _bf16_mm(x, x.T).astype(bf16)
        gram_update = (b * gram.astype(f32) + c * _bf16_mm(gram, gram)).astype(bf16)
        x = (a * x.astype(f32) + _bf16_mm(gram_update, x)).astype(bf16)
    return x.T if tall else x


def _adjusted_ratio(adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """torch's `_adjust_lr` factor: √max(1, A/B) ("original"), 0.2·√max(A, B)
    ("match_rms_adamw")."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, rows / cols))
    return 0.2 * math.sqrt(max(rows, cols))


def muon(
    lr: float | optax.Schedule = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = (DEFAULT_A, DEFAULT_B, DEFAULT_C),
    eps: float = EPS,
    ns_steps: int = DEFAULT_NS_STEPS,
    adjust_lr_fn: str | None = None,
) -> optax.GradientTransformation:
    """torch.optim.Muon as an optax transformation (updates are the deltas to add to params).

    B ← lerp(B, g, 1 − μ);  B̃ = lerp(g, B, μ) with nesterov, else B;  O = NS(B̃) (bfloat16);
    p ← p·(1 − lr·wd) − lr·r·O with r from `adjust_lr_fn` and the parameter's shape (A, B).
    Every leaf must be 2-D (give other parameters to another transformation, e.g. with
    `optax.partition`). `nesterov`, `ns_coefficients`, `ns_steps`, `adjust_lr_fn` are static.
    """
    _check_muon_args(
        lr if not callable(lr) else 0.0,
        weight_decay,
        momentum,
        ns_coefficients,
        ns_steps,
        adjust_lr_fn,
    )

    def init(params: Any) -> MuonState:
        _check_2d(params, "Muon")
        return MuonState(jnp.zeros([], jnp.int32), _zeros_like(params))

    def update(grads: Any, state: MuonState, params: Any = None):
        if params is None:
            raise ValueError("muon: update() needs `params` (for weight decay)")
        step_lr = _lr_at(lr, state.step)
        buf = jax.tree.map(lambda b, g: _lerp(b, g, 1 - momentum), state.momentum_buffer, grads)

        def new_delta(p, g, b):
            # torch converts the lerp weight to the parameter's dtype before forming 1 − weight
            direction = _lerp(g, b, jnp.asarray(momentum, p.dtype)) if nesterov else b
            ortho = _zeropower_via_newtonschulz(direction, ns_coefficients, ns_steps, eps)
            adjusted_lr = step_lr * _adjusted_ratio(adjust_lr_fn, p.shape)
            new = p * (1 - step_lr * weight_decay) + (-adjusted_lr) * ortho.astype(p.dtype)
            return (new - p).astype(p.dtype)

        updates = jax.tree.map(new_delta, params, grads, buf)
        return updates, MuonState(state.step + 1, buf)

    return optax.GradientTransformation(init, update)
