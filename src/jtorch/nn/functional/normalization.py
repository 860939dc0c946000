"""Batch, layer, group, instance and local-response normalization.

Running statistics: torch's `batch_norm`/`instance_norm` update `running_mean`/`running_var` in
place. jtorch does the same when they are `Buffer`s (any state holder); plain arrays cannot be
updated, so the pure forms `batch_norm_stats`/`instance_norm_stats` return the new statistics.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtorch._backend import kernels
from jtorch.nn.functional._utils import _holds_state

__all__ = [
    "batch_norm",
    "batch_norm_stats",
    "instance_norm",
    "instance_norm_stats",
    "layer_norm",
    "group_norm",
    "local_response_norm",
    "rms_norm",
]

_Stats = tuple[jax.Array, jax.Array | None, jax.Array | None]


def _opt(value: Any) -> jax.Array | None:
    return None if value is None else jnp.asarray(value)


def _channel_shape(x: jax.Array) -> tuple[int, ...]:
    """Broadcast shape of a per-channel vector against (N, C, *)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine(y: jax.Array, weight: Any, bias: Any, shape: tuple[int, ...]) -> jax.Array:
    if weight is not None:
        y = y * jnp.asarray(weight).reshape(shape)
    if bias is not None:
        y = y + jnp.asarray(bias).reshape(shape)
    return y


def _check_channels(fn: str, x: jax.Array, **vectors: Any) -> None:
    for name, v in vectors.items():
        if v is not None and jnp.asarray(v).size != x.shape[1]:
            raise ValueError(
                f"{fn}: `{name}` has {jnp.asarray(v).size} elements but `input` of shape "
                f"{tuple(x.shape)} has {x.shape[1]} channels on dim 1"
            )


def _write_back(running_mean: Any, running_var: Any, rm: Any, rv: Any) -> None:
    """torch's in-place running-stat update, for Buffers (plain arrays are left alone)."""
    for target, value in ((running_mean, rm), (running_var, rv)):
        if value is not None and _holds_state(target):
            target.set_value(value.astype(target.get_value().dtype))


def _moments(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Mean and biased variance over `axes` (two-pass, as torch's CPU kernels)."""
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    return mean, var


def _standardise(x: jax.Array, mean: jax.Array, var: jax.Array, eps: float) -> jax.Array:
    return (x - mean) * jax.lax.rsqrt(var + eps)


def _running_stats(
    fn: str, flag: str, rm: jax.Array | None, rv: jax.Array | None, shape: tuple[int, ...]
) -> tuple[jax.Array, jax.Array]:
    """The running stats as per-channel (mean, var) for normalising when `flag` is False."""
    if rm is None or rv is None:
        raise ValueError(f"{fn}: `running_mean` and `running_var` are required when {flag}=False")
    return rm.reshape(shape), rv.reshape(shape)


def _running_update(running: jax.Array | None, batch: jax.Array, momentum: Any) -> jax.Array | None:
    if running is None:
        return None
    batch = jax.lax.stop_gradient(batch).astype(running.dtype)
    return (1 - momentum) * running + momentum * batch


def _batch_axes(x: jax.Array) -> tuple[int, ...]:
    """Every dim of (N, C, *) but the channels."""
    return (0,) + tuple(range(2, x.ndim))


def _batch_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and biased variance over (N, *) of (N, C, *), shaped (1, C, 1, ...)."""

    def portable(x):
        return tuple(s.reshape(-1) for s in _moments(x, _batch_axes(x)))

    mean, var = kernels.channel_moments(x, portable=portable)
    shape = _channel_shape(x)
    return mean.reshape(shape), var.reshape(shape)


def _grad_sums(g: jax.Array, x: jax.Array, mean: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel sum(g) and sum(g·(x − mean)) over (N, *), shaped (1, C, 1, ...)."""
    shape = _channel_shape(x)

    def portable(g, x, mean):
        axes, centred = _batch_axes(x), x - mean.reshape(shape)
        return jnp.sum(g, axis=axes), jnp.sum(g * centred, axis=axes)

    sum_g, sum_g_centred = kernels.channel_grad_sums(g, x, mean.reshape(-1), portable=portable)
    return sum_g.reshape(shape), sum_g_centred.reshape(shape)


def _train_norm_forward(
    x: jax.Array, weight: jax.Array, bias: jax.Array, eps: float
) -> tuple[tuple[jax.Array, jax.Array, jax.Array], tuple[jax.Array, ...]]:
    """Normalise with the batch's own statistics: (output, mean, biased var) and the residuals."""
    shape = _channel_shape(x)
    mean, var = _batch_moments(x)
    invstd = jax.lax.rsqrt(var + eps)
    out = (x - mean) * (invstd * weight.reshape(shape)) + bias.reshape(shape)
    return (out, mean, var), (x, mean, invstd, weight)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _train_norm(
    x: jax.Array, weight: jax.Array, bias: jax.Array, eps: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training-mode batch norm with a hand-written backward (reverse mode only).

    Autodiff of the forward keeps several full-size intermediates per layer alive and reads each
    in its own pass; this backward needs only the input and its statistics: two per-channel sums,
    sum(g) and sum(g·(x − mean)), then one elementwise pass for the input gradient (torch's
    formula).
    """
    return _train_norm_forward(x, weight, bias, eps)[0]


def _train_norm_backward(
    eps: float,
    residuals: tuple[jax.Array, ...],
    cotangents: tuple[jax.Array, jax.Array, jax.Array],
) -> tuple[jax.Array, jax.Array, jax.Array]:
    x, mean, invstd, weight = residuals
    g, g_mean, g_var = cotangents
    shape = _channel_shape(x)
    n = x.size // x.shape[1]
    sum_g, sum_g_centred = _grad_sums(g, x, mean)
    scale = weight.reshape(shape) * invstd
    # k·(g − mean(g) − x̂·mean(g·x̂)), plus what the batch mean and variance outputs receive
    centred_coef = (2 * g_var - scale * invstd * invstd * sum_g_centred) / n
    grad_x = scale * g + centred_coef * (x - mean) + (g_mean - scale * sum_g) / n
    grad_weight = (sum_g_centred * invstd).reshape(-1)
    return (
        grad_x.astype(x.dtype),
        grad_weight.astype(weight.dtype),
        sum_g.reshape(-1).astype(weight.dtype),
    )


_train_norm.defvjp(
    lambda x, weight, bias, eps: _train_norm_forward(x, weight, bias, eps), _train_norm_backward
)


def batch_norm_stats(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: Any = 0.1,
    eps: float = 1e-5,
) -> _Stats:
    """`batch_norm` as a pure function: `(output, new_running_mean, new_running_var)`.

    Training: normalise with the batch mean and biased variance over (N, *), and move the running
    stats towards the batch mean and the *unbiased* variance by `momentum` (which may be a traced
    value, e.g. 1/num_batches_tracked). Eval: normalise with the running stats, returned unchanged.
    """
    x = jnp.asarray(input)
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: `input` must have shape (N, C, *) (at least 2-D), got shape "
            f"{tuple(x.shape)}"
        )
    rm, rv = _opt(running_mean), _opt(running_var)
    _check_channels("batch_norm", x, running_mean=rm, running_var=rv, weight=weight, bias=bias)
    shape = _channel_shape(x)
    if training:
        n = math.prod(x.shape[:1] + x.shape[2:])
        if n == 1:
            raise ValueError(
                "batch_norm: expected more than 1 value per channel when training, got `input` "
                f"of shape {tuple(x.shape)}"
            )
        if n == 0:  # as torch: an empty output, the running stats unchanged
            return x, rm, rv
        ones = jnp.ones(x.shape[1], x.dtype)
        w = ones if weight is None else jnp.asarray(weight)
        b = jnp.zeros_like(ones) if bias is None else jnp.asarray(bias)
        out, mean, var = _train_norm(x, w, b, float(eps))
        rm = _running_update(rm, mean.reshape(-1), momentum)
        rv = _running_update(rv, var.reshape(-1) * (n / (n - 1)), momentum)
        return out, rm, rv
    mean, var = _running_stats("batch_norm", "training", rm, rv, shape)
    return _affine(_standardise(x, mean, var, eps), weight, bias, shape), rm, rv


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """(x − E[x]) / √(Var[x] + eps) · weight + bias per channel (dim 1) of (N, C, *).

    In training, `running_mean`/`running_var` given as Buffers are updated in place as in torch
    (use `batch_norm_stats` to get the new values from plain arrays).
    """
    out, rm, rv = batch_norm_stats(
        input, running_mean, running_var, weight, bias, training, momentum, eps
    )
    if training:
        _write_back(running_mean, running_var, rm, rv)
    return out


def instance_norm_stats(
    input: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: Any = 0.1,
    eps: float = 1e-5,
) -> _Stats:
    """`instance_norm` as a pure function: `(output, new_running_mean, new_running_var)`.

    With input stats, the running stats move towards the batch average of the per-instance mean
    and unbiased variance, as torch does.
    """
    x = jnp.asarray(input)
    if x.ndim < 3:
        raise ValueError(
            f"instance_norm: `input` must have shape (N, C, *) with spatial dims (at least 3-D), "
            f"got shape {tuple(x.shape)}"
        )
    rm, rv = _opt(running_mean), _opt(running_var)
    _check_channels("instance_norm", x, running_mean=rm, running_var=rv, weight=weight, bias=bias)
    shape = _channel_shape(x)
    if use_input_stats:
        n = x.size // (x.shape[0] * x.shape[1])
        if n <= 1:
            raise ValueError(
                "instance_norm: expected more than 1 spatial element when training, got `input` "
                f"of shape {tuple(x.shape)}"
            )
        mean, var = _moments(x, tuple(range(2, x.ndim)))
        rm = _running_update(rm, jnp.mean(mean.reshape(x.shape[:2]), 0), momentum)
        rv = _running_update(rv, jnp.mean(var.reshape(x.shape[:2]), 0) * (n / (n - 1)), momentum)
    else:
        mean, var = _running_stats("instance_norm", "use_input_stats", rm, rv, shape)
    return _affine(_standardise(x, mean, var, eps), weight, bias, shape), rm, rv


def instance_norm(
    input: Any,
    running_mean: Any = None,
    running_var: Any = None,
    weight: Any = None,
    bias: Any = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> jax.Array:
    """(x − E[x]) / √(Var[x] + eps) · weight + bias per sample and channel of (N, C, *).

    Running stats given as Buffers are updated in place when `use_input_stats`, as in torch.
    """
    out, rm, rv = instance_norm_stats(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
    if use_input_stats:
        _write_back(running_mean, running_var, rm, rv)
    return out


def layer_norm(
    input: Any,
    normalized_shape: int | Sequence[int],
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> jax.Array:
    """(x − E[x]) / √(Var[x] + eps) · weight + bias over the last len(normalized_shape) dims."""
    x = jnp.asarray(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
        raise ValueError(
            f"layer_norm: `normalized_shape`={list(shape)} expects `input` of shape "
            f"(*, {', '.join(map(str, shape))}), got shape {tuple(x.shape)}"
        )
    mean, var = _moments(x, tuple(range(x.ndim - k, x.ndim)))
    y = _standardise(x, mean, var, eps)
    if weight is not None:
        y = y * jnp.asarray(weight)
    if bias is not None:
        y = y + jnp.asarray(bias)
    return y


def group_norm(
    input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5
) -> jax.Array:
    """Normalise each of `num_groups` channel groups of (N, C, *) per sample, then affine per C."""
    x = jnp.asarray(input)
    if x.ndim < 2:
        raise ValueError(
            f"group_norm: `input` must have shape (N, C, *) (at least 2-D), got shape "
            f"{tuple(x.shape)}"
        )
    channels = x.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(
            f"group_norm: the channels of `input` ({channels}, shape {tuple(x.shape)}) must be "
            f"divisible by `num_groups`={num_groups}"
        )
    _check_channels("group_norm", x, weight=weight, bias=bias)
    grouped = x.reshape(x.shape[0], num_groups, -1)  # (N, G, C/G·*)
    mean, var = _moments(grouped, (2,))
    y = _standardise(grouped, mean, var, eps).reshape(x.shape)
    return _affine(y, weight, bias, _channel_shape(x))


def local_response_norm(
    input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> jax.Array:
    """x / (k + alpha/size · Σ x² over `size` neighbouring channels)^beta (zero-padded window)."""
    x = jnp.asarray(input)
    if x.ndim < 3:
        raise ValueError(
            f"local_response_norm: `input` must have shape (N, C, *) (3-D or more), got shape "
            f"{tuple(x.shape)}"
        )
    if x.size == 0:
        return x
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)
    window = (1, size) + (1,) * (x.ndim - 2)
    sq = jnp.pad(jnp.square(x), pad)
    div = (
        jax.lax.reduce_window(
            sq, np.zeros((), sq.dtype), jax.lax.add, window, (1,) * x.ndim, "VALID"
        )
        / size
    )
    return x / (div * alpha + k) ** beta


def rms_norm(
    input: Any, normalized_shape: int | Sequence[int], weight: Any = None, eps: float | None = None
) -> jax.Array:
    """x / √(mean(x²) + eps) · weight over the last len(normalized_shape) dims
    (torch.nn.functional.rms_norm). As torch, half-precision inputs are normalised in float32 and
    cast back before the weight; `eps=None` means the machine epsilon of that compute type."""
    x = jnp.asarray(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k :]) != shape:
        raise ValueError(
            f"rms_norm: `normalized_shape`={list(shape)} expects `input` of shape "
            f"(*, {', '.join(map(str, shape))}), got shape {tuple(x.shape)}"
        )
    w = _opt(weight)
    if w is not None and tuple(w.shape) != shape:
        raise ValueError(
            f"rms_norm: `weight` must have shape {shape} (normalized_shape), got {tuple(w.shape)}"
        )
    compute = jnp.promote_types(x.dtype, jnp.float32)
    if eps is None:
        eps = float(jnp.finfo(compute).eps)
    xc = x.astype(compute)
    ms = jnp.mean(xc * xc, axis=tuple(range(x.ndim - k, x.ndim)), keepdims=True)
    y = (xc * jax.lax.rsqrt(ms + eps)).astype(x.dtype)
    return y if w is None else y * w
