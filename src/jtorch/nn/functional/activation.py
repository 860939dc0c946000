"""Activation functions (torch.nn.functional: relu, gelu, softmax, ...).

Every function takes torch's arguments in torch's order. `inplace` is accepted and ignored (JAX
arrays are immutable). Gradients at the kinks follow torch's backward formulas (relu'(0) = 0,
hardtanh' = 0 at its bounds, leaky_relu'(0) = negative_slope, ...), which is why several functions
are written with `jnp.where` on the same comparisons torch's kernels use.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from jtorch._random import next_key

__all__ = [
    "threshold",
    "relu",
    "relu6",
    "hardtanh",
    "leaky_relu",
    "prelu",
    "rrelu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "softplus",
    "softsign",
    "tanhshrink",
    "hardshrink",
    "softshrink",
    "glu",
    "softmax",
    "softmin",
    "log_softmax",
]

# torch's SELU constants (torch/csrc/api, ATen Activation.cpp)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _zero(x: jax.Array) -> jax.Array:
    return jnp.zeros((), x.dtype)


def _nonpositive(x: jax.Array) -> jax.Array:
    """min(x, 0) with gradient 1 at x = 0 (jnp.minimum would split it 0.5/0.5 at the tie)."""
    return jnp.where(x > 0, _zero(x), x)


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> jax.Array:
    """x where x > threshold, else `value`; gradient 0 where x <= threshold."""
    x = jnp.asarray(input)
    return jnp.where(x > threshold, x, jnp.asarray(value, x.dtype))


def relu(input: Any, inplace: bool = False) -> jax.Array:
    """max(x, 0); gradient 0 at x = 0 as in torch."""
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, _zero(x))


def hardtanh(
    input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> jax.Array:
    """clip(x, min_val, max_val); gradient 0 at and beyond both bounds as in torch."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: `min_val`={min_val} must not exceed `max_val`={max_val}")
    x = jnp.asarray(input)
    inside = (x > min_val) & (x < max_val)
    return jnp.where(inside, x, jnp.clip(jax.lax.stop_gradient(x), min_val, max_val))


def relu6(input: Any, inplace: bool = False) -> jax.Array:
    """min(max(x, 0), 6) (hardtanh(x, 0, 6))."""
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> jax.Array:
    """x where x > 0, else negative_slope·x."""
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, x * negative_slope)


def prelu(input: Any, weight: Any) -> jax.Array:
    """x where x > 0, else a·x with learnable a; `weight` (1,) or (C,) broadcast over dim 1."""
    x = jnp.asarray(input)
    w = jnp.asarray(weight)
    if w.ndim > 1:
        raise ValueError(f"prelu: `weight` must be 0-D or 1-D, got shape {tuple(w.shape)}")
    if w.size > 1:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if x.ndim == 0 or w.size != channels:
            raise ValueError(
                f"prelu: `weight` has {w.size} entries but `input` of shape {tuple(x.shape)} "
                f"has {channels} channels on dim 1 (expected 1 or {channels} parameters)"
            )
        w = w.reshape((channels,) + (1,) * (x.ndim - 2))
    else:
        w = w.reshape(())
    return jnp.where(x > 0, x, w * x)


def rrelu(
    input: Any,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """x where x > 0, else a·x: in training a ~ U(lower, upper) drawn per element, otherwise
    the fixed slope (lower + upper)/2 (torch.nn.functional.rrelu).

    `key` (keyword-only) gives the randomness explicitly; without it a training call draws from
    jtorch's global generator, as torch's does (eagerly or inside `jtorch.jit`).
    """
    if not lower <= upper:
        raise ValueError(
            f"rrelu: `lower` ({lower}) should be less than or equal to `upper` ({upper})"
        )
    x = jnp.asarray(input)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    if key is None:
        key = next_key()  # torch's implicit draw from the global generator
    slope = jax.random.uniform(key, x.shape, x.dtype, minval=lower, maxval=upper)
    return jnp.where(x > 0, x, x * slope)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """x where x > 0, else alpha·(exp(x) − 1)."""
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, alpha * jnp.expm1(_nonpositive(x)))


def selu(input: Any, inplace: bool = False) -> jax.Array:
    """scale·(max(0, x) + min(0, alpha·(exp(x) − 1))), scale≈1.0507, alpha≈1.6733."""
    x = jnp.asarray(input)
    return _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(_nonpositive(x)))


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """max(0, x) + min(0, alpha·(exp(x/alpha) − 1))."""
    if alpha == 0:
        raise ValueError("celu: `alpha` must not be 0 (it divides the input)")
    x = jnp.asarray(input)
    return jnp.where(x > 0, x, alpha * jnp.expm1(_nonpositive(x) / alpha))


def gelu(input: Any, approximate: str = "none") -> jax.Array:
    """x·Φ(x) ('none'), or 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) ('tanh')."""
    x = jnp.asarray(input)
    if approximate == "none":
        return x * 0.5 * (1.0 + jax.lax.erf(x * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + jnp.tanh(inner))
    raise ValueError(f"gelu: `approximate` must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any, inplace: bool = False) -> jax.Array:
    """x·sigmoid(x)."""
    x = jnp.asarray(input)
    return x * jax.nn.sigmoid(x)


def mish(input: Any, inplace: bool = False) -> jax.Array:
    """x·tanh(softplus(x))."""
    x = jnp.asarray(input)
    return x * jnp.tanh(jax.nn.softplus(x))


def sigmoid(input: Any) -> jax.Array:
    """1 / (1 + exp(−x))."""
    return jax.nn.sigmoid(jnp.asarray(input))


def tanh(input: Any) -> jax.Array:
    """tanh(x)."""
    return jnp.tanh(jnp.asarray(input))


def hardsigmoid(input: Any, inplace: bool = False) -> jax.Array:
    """0 for x <= −3, 1 for x >= 3, else x/6 + 1/2; gradient 0 at ±3 as in torch."""
    x = jnp.asarray(input)
    inside = (x > -3) & (x < 3)
    outside = jnp.where(x <= -3, _zero(x), jnp.ones((), x.dtype))
    return jnp.where(inside, x / 6 + 0.5, outside)


def hardswish(input: Any, inplace: bool = False) -> jax.Array:
    """0 for x <= −3, x for x >= 3, else x·(x + 3)/6 (gradient 0 at −3 and 1 at 3, as in torch)."""
    x = jnp.asarray(input)
    return jnp.where(x <= -3, _zero(x), jnp.where(x < 3, x * (x + 3) / 6, x))


def logsigmoid(input: Any) -> jax.Array:
    """log(sigmoid(x)) = −softplus(−x)."""
    return jax.nn.log_sigmoid(jnp.asarray(input))


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """log(1 + exp(beta·x))/beta, and x itself where beta·x > threshold."""
    x = jnp.asarray(input)
    bx = x * beta
    linear = bx > threshold
    soft = jnp.log1p(jnp.exp(jnp.where(linear, _zero(x), bx))) / beta
    return jnp.where(linear, x, soft)


def softsign(input: Any) -> jax.Array:
    """x / (1 + |x|)."""
    x = jnp.asarray(input)
    return x / (1 + jnp.abs(x))


def tanhshrink(input: Any) -> jax.Array:
    """x − tanh(x)."""
    x = jnp.asarray(input)
    return x - jnp.tanh(x)


def hardshrink(input: Any, lambd: float = 0.5) -> jax.Array:
    """x where |x| > lambd, else 0."""
    x = jnp.asarray(input)
    return jnp.where((x > lambd) | (x < -lambd), x, _zero(x))


def softshrink(input: Any, lambd: float = 0.5) -> jax.Array:
    """x − lambd where x > lambd, x + lambd where x < −lambd, else 0."""
    if lambd < 0:
        raise ValueError(f"softshrink: `lambd` must be non-negative, got {lambd}")
    x = jnp.asarray(input)
    return jnp.where(x > lambd, x - lambd, jnp.where(x < -lambd, x + lambd, _zero(x)))


def glu(input: Any, dim: int = -1) -> jax.Array:
    """a·sigmoid(b) where a, b are the two halves of `input` along `dim`."""
    x = jnp.asarray(input)
    if x.ndim == 0:
        raise ValueError("glu: `input` must have at least 1 dimension, got a 0-D array")
    if x.shape[dim] % 2:
        raise ValueError(
            f"glu: halving only works on an even length; `input` of shape {tuple(x.shape)} "
            f"has size {x.shape[dim]} on dim {dim}"
        )
    a, b = jnp.split(x, 2, axis=dim)
    return a * jax.nn.sigmoid(b)


def _softmax_dim(name: str, ndim: int, dim: int | None, stacklevel: int) -> int:
    """torch's implicit-dim rule: dim 0 for 0-, 1- and 3-D inputs, else dim 1 (with a warning)."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=stacklevel + 1,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(input: Any, dtype: Any) -> jax.Array:
    x = jnp.asarray(input)
    return x if dtype is None else x.astype(dtype)


def softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """exp(x_i) / Σ_j exp(x_j) along `dim` (implicit dim with a warning when None, as in torch)."""
    x = _prepare(input, dtype)
    d = _softmax_dim("softmax", x.ndim, dim, _stacklevel)
    return jax.nn.softmax(x, axis=d) if x.ndim else jnp.ones_like(x)


def softmin(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """softmax(−x) along `dim`."""
    x = _prepare(input, dtype)
    d = _softmax_dim("softmin", x.ndim, dim, _stacklevel)
    return jax.nn.softmax(-x, axis=d) if x.ndim else jnp.ones_like(x)


def log_softmax(
    input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> jax.Array:
    """x_i − log Σ_j exp(x_j) along `dim`."""
    x = _prepare(input, dtype)
    d = _softmax_dim("log_softmax", x.ndim, dim, _stacklevel)
    return jax.nn.log_softmax(x, axis=d) if x.ndim else jnp.zeros_like(x)
