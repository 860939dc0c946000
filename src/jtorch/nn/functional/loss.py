"""Loss functions with torch's reductions, weights and conventions.

Every function takes torch's positional arguments in torch's order, including the deprecated
`size_average`/`reduce` pair (mapped onto `reduction` with torch's rule and a warning).
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import checkify

__all__ = [
    "checked_indices",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "linear_cross_entropy",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(
            f"{reduction} is not a valid value for reduction (expected {'/'.join(allowed)})"
        )


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """torch's mapping of the deprecated `size_average`/`reduce` pair onto `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
        UserWarning,
        stacklevel=3,
    )
    return ret


def _reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return reduction


def _reduce(loss: jax.Array, reduction: str) -> jax.Array:
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def _weighted_reduce(loss: jax.Array, w: jax.Array | None, reduction: str) -> jax.Array:
    """`_reduce` of w·loss, where 'mean' is the weighted mean Σ w·loss / Σ w."""
    if w is None:
        return _reduce(loss, reduction)
    loss = loss * w
    if reduction == "mean":
        return jnp.sum(loss) / jnp.sum(w)
    return _reduce(loss, reduction)


def _check_same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` shape {tuple(a.shape)} and `{name_b}` shape {tuple(b.shape)} differ; "
            "torch would broadcast them, which is almost always a bug"
        )


def _float(x: Any, like: jax.Array | None = None) -> jax.Array:
    """`x` as a floating array (of `like`'s dtype when given)."""
    x = jnp.asarray(x)
    if like is not None:
        return x.astype(like.dtype)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _input_and_target(input: Any, target: Any) -> tuple[jax.Array, jax.Array]:
    """Floating `input` and `target` cast to its dtype, checked to have the same shape."""
    x = _float(input)
    y = _float(target, like=x)
    _check_same_shape("input", x, "target", y)
    return x, y


def _optional(x: Any) -> jax.Array | None:
    return None if x is None else jnp.asarray(x)


def _clamp_min(x: jax.Array, low: float = 0.0) -> jax.Array:
    """torch.clamp_min: the gradient passes where x >= low (ties included)."""
    return jnp.where(x >= low, x, low)


def _relu_strict(x: jax.Array) -> jax.Array:
    """`z if z > 0 else 0` as written in torch's C++ loops (no gradient at a tie)."""
    return jnp.where(x > 0, x, 0.0)


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


_checked_indices = False


@contextlib.contextmanager
def checked_indices() -> Iterator[None]:
    """Check class indices inside compiled code too: the class-index losses traced while this is
    active add a `jax.experimental.checkify` check that every target is in range. Run the traced
    function under `checkify.checkify` and raise with `err.throw()`:

        with F.checked_indices():
            err, loss = checkify.checkify(jax.jit(loss_fn))(logits, target)
        err.throw()

    With `jtorch.jit`, put checkify inside the compiled function:
    `jtorch.jit(lambda m, x, y: checkify.checkify(loss_fn)(m, x, y))` returns `(err, loss)`.
    Outside `jit` indices are always checked (IndexError), as in torch. Functions traced before
    or outside the block stay unchecked; a checked function that is staged (jit) without
    `checkify.checkify` fails to trace with JAX's "not functionalized" error.
    """
    global _checked_indices
    previous, _checked_indices = _checked_indices, True
    try:
        yield
    finally:
        _checked_indices = previous


def _check_class_indices(
    fn: str, t: jax.Array, n_classes: int, low: int = 0, ignore_index: int | None = None
) -> None:
    """Raise IndexError if a class index in `t` lies outside [low, n_classes) (ignore_index
    allowed): at once on concrete values, by a checkify check under `checked_indices()`."""
    valid = (t >= low) & (t < n_classes)
    if ignore_index is not None:
        valid = valid | (t == ignore_index)
    allowed = f"[{low}, {n_classes - 1}]" + (
        "" if ignore_index is None else f" or ignore_index={ignore_index}"
    )
    if _is_concrete(t):
        bad = np.asarray(t)[~np.asarray(valid)]
        if bad.size:
            raise IndexError(
                f"{fn}: target {bad[0]} is out of bounds: expected class indices in {allowed}"
            )
    elif _checked_indices and t.size:
        first_bad = t.reshape(-1)[jnp.argmin(valid.reshape(-1))]
        checkify.check(
            jnp.all(valid),
            f"{fn}: target {{}} is out of bounds: expected class indices in {allowed}",
            first_bad,
        )


def _check_class_weight(weight: jax.Array | None, n_classes: int) -> None:
    if weight is not None and weight.shape != (n_classes,):
        raise ValueError(
            f"`weight` has shape {tuple(weight.shape)}, expected ({n_classes},): one weight per "
            "class"
        )


def _check_elementwise_weight(weight: jax.Array | None, x: jax.Array) -> None:
    if weight is not None and weight.shape != x.shape:
        raise ValueError(
            f"`weight` shape {tuple(weight.shape)} and `input` shape {tuple(x.shape)} differ "
            "(Weights and input must have the same size)"
        )


def _check_broadcastable(name: str, value: jax.Array, x: jax.Array) -> None:
    try:
        shape = np.broadcast_shapes(value.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(
            f"`{name}` shape {tuple(value.shape)} does not broadcast to `input` shape "
            f"{tuple(x.shape)}"
        )


def _times_weight(loss: jax.Array, weight: Any, x: jax.Array) -> jax.Array:
    """loss·weight, `weight` broadcasting to input `x`'s shape; loss itself when weight is None."""
    if weight is None:
        return loss
    w = jnp.asarray(weight)
    _check_broadcastable("weight", w, x)
    return loss * w


# ---------------------------------------------------------------------- regression losses


def _regression_args(
    input: Any, target: Any, weight: Any
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """Floating `input` and `target` of the same shape, and an optional `weight` of that shape."""
    x, y, w = _float(input), _float(target), _optional(weight)
    _check_same_shape("input", x, "target", y)
    _check_elementwise_weight(w, x)
    return x, y, w


def l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> jax.Array:
    """Mean absolute error |x − y| (torch.nn.functional.l1_loss).

    With `weight` (same shape as input), 'mean' is Σ w·|x − y| / Σ w as in torch.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y, w = _regression_args(input, target, weight)
    return _weighted_reduce(jnp.abs(x - y), w, reduction)


def mse_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> jax.Array:
    """Mean squared error (x − y)² (torch.nn.functional.mse_loss; optax.squared_error's maths).

    With `weight` (same shape as input), 'mean' is Σ w·(x − y)² / Σ w as in torch.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y, w = _regression_args(input, target, weight)
    return _weighted_reduce(optax.losses.squared_error(x, y), w, reduction)


def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> jax.Array:
    """Smooth L1: 0.5·d²/β where |d| < β, else |d| − 0.5·β; plain L1 when β = 0
    (torch.nn.functional.smooth_l1_loss)."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"`beta` must be >= 0 for smooth_l1_loss, got {beta}")
    x, y = _float(input), _float(target)
    _check_same_shape("input", x, "target", y)
    d = jnp.abs(x - y)
    loss = jnp.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta) if beta > 0 else d
    return _reduce(loss, reduction)


def huber_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
) -> jax.Array:
    """Huber loss: 0.5·d² where |d| ≤ δ, else δ·(|d| − 0.5·δ) (torch.nn.functional.huber_loss;
    the maths of optax.losses.huber_loss, which computes it).

    With `weight` (same shape as input), 'mean' is mean(w·loss) as in torch.
    """
    _check_reduction(reduction)
    if delta <= 0:
        raise ValueError(f"`delta` must be > 0 for huber_loss, got {delta}")
    x, y, w = _regression_args(input, target, weight)
    loss = optax.losses.huber_loss(x, y, delta=delta)
    return _reduce(loss if w is None else loss * w, reduction)


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Poisson negative log likelihood: exp(x) − y·x (log_input) or x − y·log(x + eps); `full`
    adds Stirling's y·log y − y + ½·log(2πy) where y > 1 (torch.nn.functional.poisson_nll_loss).

    Differs from torch: with `full`, the gradient to `target` is finite where target == 0 (torch's
    is NaN there).
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _float(input), _float(target)
    _check_same_shape("input", x, "target", y)
    loss = jnp.exp(x) - y * x if log_input else x - y * jnp.log(x + eps)
    if full:
        safe = jnp.where(y > 1, y, 1.0)
        stirling = safe * jnp.log(safe) - safe + 0.5 * jnp.log(2 * math.pi * safe)
        loss = loss + jnp.where(y > 1, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> jax.Array:
    """Gaussian negative log likelihood ½·(log max(var, eps) + (x − y)² / max(var, eps)) (+ ½·log 2π
    when `full`) (torch.nn.functional.gaussian_nll_loss).

    `var` has input's shape, input's shape without the last axis, or input's shape with one axis
    of size 1; a float is used everywhere. As in torch, the clamp to `eps` does not stop the
    gradient to `var`.
    Differs from torch: the check for negative `var` runs only on concrete (untraced) arrays.
    """
    x, y = _float(input), _float(target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        v = jnp.full_like(x, var)
    else:
        v = _float(var)
        if _is_concrete(v) and bool(jnp.any(v < 0)):
            raise ValueError("var has negative entry/entries")
    if v.shape != x.shape:
        if x.shape[:-1] == v.shape:
            v = v[..., None]
        elif not (
            x.ndim == v.ndim
            and sum(b for a, b in zip(x.shape, v.shape, strict=True) if a != b) == 1
        ):
            raise ValueError(
                f"`var` shape {tuple(v.shape)} is of incorrect size for `input` shape "
                f"{tuple(x.shape)} (expected the same shape, the shape without the last axis, "
                "or one axis of size 1)"
            )
    _check_reduction(reduction)
    _check_broadcastable("target", y, x)
    # clamp the value, keep the gradient as if unclamped (torch clamps in place under no_grad)
    v = v + jax.lax.stop_gradient(jnp.maximum(v, eps) - v)
    loss = 0.5 * (jnp.log(v) + (x - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def kl_div(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> jax.Array:
    """Pointwise KL divergence y·(log y − x) with x in log space; with `log_target`,
    exp(y)·(y − x) (torch.nn.functional.kl_div).

    `reduction` also accepts 'batchmean' (sum divided by the batch size, the true KL divergence);
    'mean' divides by every element and warns as torch does.
    Differs from optax.losses.kl_divergence: that one sums over the last axis; this is pointwise.
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    else:
        _check_reduction(reduction, ("mean", "batchmean", "sum", "none"))
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the "
                "support size.'batchmean' divides only by the batch size, and aligns with the KL "
                "div math definition.'mean' will be changed to behave the same as 'batchmean' in "
                "the next major release.",
                UserWarning,
                stacklevel=2,
            )
    x, y = _float(input), _float(target)
    _check_same_shape("input", x, "target", y)
    if log_target:
        loss = jnp.exp(y) * (y - x)
    else:
        loss = jax.scipy.special.xlogy(y, y) - y * x
    if reduction == "batchmean":
        total = jnp.sum(loss)
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------- classification losses


def _check_index_target(x: jax.Array, t: jax.Array, what: str) -> None:
    if x.ndim < 1:
        raise ValueError(f"`input` must have at least 1 dimension (C,), got shape {x.shape}")
    expected = () if x.ndim == 1 else (x.shape[0], *x.shape[2:])  # input without C
    if t.shape != expected:
        raise ValueError(
            f"`target` shape {tuple(t.shape)} does not match `input` shape {tuple(x.shape)}: "
            f"expected {expected} {what}"
        )
    if not jnp.issubdtype(t.dtype, jnp.integer):
        raise ValueError(f"`target` of class indices must be an integer array, got {t.dtype}")


def _nll(
    logp: jax.Array, t: jax.Array, w: jax.Array | None, ignore_index: int, reduction: str
) -> jax.Array:
    """Core of nll_loss: −w[t]·logp[t] with ignored targets weighted 0, weighted mean."""
    class_dim = 0 if logp.ndim == 1 else 1
    ignored = t == ignore_index
    safe_t = jnp.where(ignored, 0, t)
    picked = jnp.take_along_axis(logp, jnp.expand_dims(safe_t, class_dim), axis=class_dim)
    picked = jnp.squeeze(picked, class_dim)  # (N, d1, ...)
    wt = jnp.ones_like(picked) if w is None else w.astype(logp.dtype)[safe_t]
    wt = jnp.where(ignored, 0.0, wt)
    if reduction == "mean":
        return _mean_over_kept(-picked * wt, ~ignored, jnp.sum(wt))
    return _reduce(-picked * wt, reduction)


def _mean_over_kept(loss: jax.Array, kept: jax.Array, denom: jax.Array) -> jax.Array:
    """Σ loss / denom over the kept (not ignored) elements, with torch's gradient: 1/denom for
    kept elements and exactly 0 for ignored ones even when denom is 0 (a double `where`, so
    no 0/0 reaches the input gradient); the value is then NaN, as torch's."""
    scale = jnp.where(kept, 1.0 / jnp.where(denom == 0, 1.0, denom), 0.0)
    scale = jnp.where(kept & (denom == 0), jnp.inf, scale)  # kept with zero total weight: NaN
    total = jnp.sum(jnp.where(kept, loss, 0.0) * scale)
    return total + jnp.where(denom == 0, jnp.nan, 0.0).astype(total.dtype)


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Negative log likelihood −w[y]·x[y] of log-probabilities x, 'mean' weighted by Σ w[y] over
    non-ignored targets (torch.nn.functional.nll_loss).

    Shapes: input (C), (N, C) or (N, C, d1, ...); target (), (N) or (N, d1, ...).
    Out-of-range class indices raise IndexError outside `jit` (inside it, see `checked_indices`).
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, t, w = _float(input), jnp.asarray(target), _optional(weight)
    _check_index_target(x, t, "(class indices)")
    n_classes = x.shape[0 if x.ndim == 1 else 1]
    _check_class_weight(w, n_classes)
    _check_class_indices("nll_loss", t, n_classes, ignore_index=ignore_index)
    return _nll(x, t, w, ignore_index, reduction)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Cross entropy of logits: nll_loss(log_softmax(x)) for class indices, −Σ_c w_c·y_c·
    log_softmax(x)_c for class probabilities (torch.nn.functional.cross_entropy).

    A target with input's shape holds class probabilities (floating); otherwise class indices.
    `label_smoothing` ε mixes the target with the uniform distribution: (1 − ε)·y + ε/C.
    Unweighted probability targets use optax.losses.softmax_cross_entropy (identical maths).
    Shapes: input (C), (N, C) or (N, C, d1, ...). Out-of-range class indices raise IndexError
    outside `jit` (inside it, see `checked_indices`).
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"`label_smoothing` must be in [0, 1], got {label_smoothing}")
    x, t, w = _float(input), jnp.asarray(target), _optional(weight)
    if x.ndim < 1:
        raise ValueError(f"`input` must have at least 1 dimension (C,), got shape {x.shape}")
    class_dim = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_dim]
    _check_class_weight(w, n_classes)
    w_shape = [1] * x.ndim
    w_shape[class_dim] = n_classes
    logp = jax.nn.log_softmax(x, axis=class_dim)

    if t.shape == x.shape:  # class probabilities
        if not jnp.issubdtype(t.dtype, jnp.floating):
            raise ValueError(
                f"`target` with the input's shape {tuple(x.shape)} holds class probabilities and "
                f"must be floating, got {t.dtype}"
            )
        if ignore_index >= 0:
            raise ValueError("ignore_index is not supported for floating point target")
        t = t.astype(x.dtype)
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / n_classes
        if w is None:
            loss = optax.losses.softmax_cross_entropy(
                jnp.moveaxis(x, class_dim, -1), jnp.moveaxis(t, class_dim, -1)
            )  # (N, d1, ...)
            return _reduce(loss, reduction)
        loss = -jnp.sum(logp * t * w.astype(x.dtype).reshape(w_shape), axis=class_dim)
        if reduction == "mean":
            return jnp.sum(loss) / (x.size // n_classes)
        return _reduce(loss, reduction)

    _check_index_target(x, t, "(class indices) or the input's shape (class probabilities)")
    _check_class_indices("cross_entropy", t, n_classes, ignore_index=ignore_index)
    nll = _nll(logp, t, w, ignore_index, reduction)
    if label_smoothing <= 0:
        return nll
    ignored = t == ignore_index
    wb = 1.0 if w is None else w.astype(x.dtype).reshape(w_shape)
    smooth = jnp.where(ignored, 0.0, -jnp.sum(logp * wb, axis=class_dim))
    if reduction == "mean":
        if w is None:
            denom = jnp.sum(~ignored).astype(x.dtype)
        else:
            denom = jnp.sum(jnp.where(ignored, 0.0, w.astype(x.dtype)[jnp.where(ignored, 0, t)]))
        smooth = _mean_over_kept(smooth, ~ignored, denom)
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
) -> jax.Array:
    """cross_entropy(linear(x, W, b), target) with W of shape (C, in_features) or
    (C, d1, ..., dK, in_features) for a K-dimensional loss, whose logits are reshaped to
    (N, C, d1, ..., dK) (torch.nn.functional.linear_cross_entropy, its reference path).

    Shapes: input (in_features) or (N, in_features) (K > 0 needs N); `ignore_index=None` means
    -100 for class indices and is required for class probabilities.
    Differs from torch: `options` (torch's chunking strategy, a memory optimisation with the
    same result) is accepted and ignored: XLA fuses the projection and the softmax.
    """
    x, w = _float(input), jnp.asarray(linear_weight)
    t = jnp.asarray(target)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"linear_cross_entropy: expected `input` of shape (in_features) or "
            f"(N, in_features), got shape {tuple(x.shape)}"
        )
    if w.ndim < 2 or w.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"linear_cross_entropy: `linear_weight` must be (C, ..., in_features={x.shape[-1]}), "
            f"got shape {tuple(w.shape)}"
        )
    num_classes, out_features = w.shape[0], tuple(w.shape[1:-1])
    b = _optional(linear_bias)
    if b is not None and tuple(b.shape) != (num_classes, *out_features):
        raise ValueError(
            f"linear_cross_entropy: expected `linear_bias` shape {(num_classes, *out_features)}, "
            f"got {tuple(b.shape)}"
        )
    if out_features and x.ndim == 1:
        raise ValueError(
            f"linear_cross_entropy: K-dimensional loss defined by `linear_weight` shape "
            f"{tuple(w.shape)} requires batched input (N, {x.shape[-1]}), got shape "
            f"{tuple(x.shape)}"
        )
    logits_shape = (*x.shape[:-1], num_classes, *out_features)
    if t.shape == logits_shape and ignore_index is not None:
        raise ValueError(
            "linear_cross_entropy: `ignore_index` cannot be specified when target contains "
            "probabilities"
        )
    n_out = math.prod(out_features, start=num_classes)
    logits = x @ w.reshape(n_out, x.shape[-1]).T
    if b is not None:
        logits = logits + b.reshape(n_out)
    return cross_entropy(
        logits.reshape(logits_shape),
        t,
        weight=weight,
        reduction=reduction,
        ignore_index=-100 if ignore_index is None else ignore_index,
        label_smoothing=label_smoothing,
    )


@jax.custom_jvp
def _bce(x: jax.Array, y: jax.Array) -> jax.Array:
    return -(y * jnp.maximum(jnp.log(x), -100.0) + (1 - y) * jnp.maximum(jnp.log1p(-x), -100.0))


@_bce.defjvp
def _bce_jvp(primals: tuple, tangents: tuple) -> tuple:
    # torch's own derivative: (x − y) / max(x·(1 − x), 1e-12), finite at x ∈ {0, 1}
    x, y = primals
    dx, dy = tangents
    gx = (x - y) / jnp.maximum((1 - x) * x, 1e-12)
    gy = jnp.maximum(jnp.log1p(-x), -100.0) - jnp.maximum(jnp.log(x), -100.0)
    return _bce(x, y), gx * dx + gy * dy


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Binary cross entropy −w·(y·log x + (1 − y)·log(1 − x)) of probabilities x, each log
    clamped at −100 as in torch (torch.nn.functional.binary_cross_entropy).

    The input gradient is torch's (x − y)/max(x(1 − x), 1e-12).
    Differs from torch: inputs outside [0, 1] give NaN instead of raising.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _input_and_target(input, target)
    return _reduce(_times_weight(_bce(x, y), weight, x), reduction)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> jax.Array:
    """Binary cross entropy of logits −w·(p·y·log σ(x) + (1 − y)·log(1 − σ(x))), p = pos_weight,
    in the stable form (1 − y)·x + (1 + (p − 1)·y)·softplus(−x)
    (torch.nn.functional.binary_cross_entropy_with_logits).

    Without `pos_weight` it is optax.losses.sigmoid_binary_cross_entropy (identical maths).
    `weight` broadcasts to the input; `pos_weight` broadcasts along the last (class) axis.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _input_and_target(input, target)
    if pos_weight is None:
        loss = optax.losses.sigmoid_binary_cross_entropy(x, y)
    else:
        pw = jnp.asarray(pos_weight)
        _check_broadcastable("pos_weight", pw, x)
        loss = (1 - y) * x + (1 + (pw - 1) * y) * jax.nn.softplus(-x)
    loss = _times_weight(loss, weight, x)
    return _reduce(loss, reduction)


def soft_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Two-class logistic loss log(1 + exp(−y·x)) (torch.nn.functional.soft_margin_loss).

    Differs from torch: computed as softplus(−y·x), which stays finite for large −y·x.
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _input_and_target(input, target)
    return _reduce(jax.nn.softplus(-y * x), reduction)


def multilabel_soft_margin_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-label one-versus-all logistic loss, mean over classes of
    −w·(y·log σ(x) + (1 − y)·log σ(−x)) (torch.nn.functional.multilabel_soft_margin_loss;
    the per-element term is optax.losses.sigmoid_binary_cross_entropy, identical maths).

    Shapes: input and target (N, C) or (C); 'none' gives (N) or ().
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _input_and_target(input, target)
    loss = optax.losses.sigmoid_binary_cross_entropy(x, y)
    loss = _times_weight(loss, weight, x)
    loss = jnp.sum(loss, axis=-1) / x.shape[-1]
    return _reduce(loss, reduction)


def _check_multiclass(x: jax.Array, t: jax.Array, target_shape: tuple[int, ...]) -> None:
    if x.ndim not in (1, 2):
        raise ValueError(f"`input` must be (C) or (N, C), got shape {tuple(x.shape)}")
    if t.shape != target_shape:
        raise ValueError(
            f"`target` shape {tuple(t.shape)} does not match `input` shape {tuple(x.shape)}: "
            f"expected {target_shape}"
        )
    if not jnp.issubdtype(t.dtype, jnp.integer):
        raise ValueError(f"`target` must hold integer class indices, got {t.dtype}")


def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-class hinge loss Σ_{i≠y} w[y]·max(0, margin − x[y] + x[i])^p / C
    (torch.nn.functional.multi_margin_loss).

    Shapes: input (N, C) or (C); target (N) or () class indices; 'none' gives (N) or ().
    """
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got p={p}")
    x, t = _float(input), jnp.asarray(target)
    _check_multiclass(x, t, x.shape[:-1])
    n_classes = x.shape[-1]
    _check_class_indices("multi_margin_loss", t, n_classes)
    xt = jnp.take_along_axis(x, t[..., None], axis=-1)  # (N, 1)
    h = _relu_strict(margin - xt + x)
    if p == 2:
        h = h * h
    if weight is not None:
        w = jnp.asarray(weight)
        if w.ndim != 1:
            raise ValueError(f"weight must be one-dimensional, got shape {tuple(w.shape)}")
        _check_class_weight(w, n_classes)
        h = h * w.astype(x.dtype)[t][..., None]
    h = jnp.where(jnp.arange(n_classes) == t[..., None], 0.0, h)
    return _reduce(jnp.sum(h, axis=-1) / n_classes, reduction)


def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Multi-label hinge loss Σ_j Σ_{i∉y} max(0, 1 − (x[y_j] − x[i])) / C
    (torch.nn.functional.multilabel_margin_loss).

    `target` has input's shape (N, C) or (C) and lists the target classes, ended by the first −1.
    'none' gives (N) or ().
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _float(input), jnp.asarray(target)
    _check_multiclass(x, t, x.shape)
    n_classes = x.shape[-1]
    _check_class_indices("multilabel_margin_loss", t, n_classes, low=-1)
    valid = jnp.cumprod(t >= 0, axis=-1).astype(bool)  # (N, C): before the first −1
    safe_t = jnp.where(valid, t, 0)
    onehot = jax.nn.one_hot(safe_t, n_classes, dtype=x.dtype) * valid[..., None]  # (N, J, C)
    is_target = jnp.sum(onehot, axis=-2) > 0  # (N, C)
    xt = jnp.take_along_axis(x, safe_t, axis=-1)  # (N, J)
    z = _relu_strict(1 - xt[..., :, None] + x[..., None, :])  # (N, J, C)
    z = jnp.where(valid[..., :, None] & ~is_target[..., None, :], z, 0.0)
    return _reduce(jnp.sum(z, axis=(-2, -1)) / n_classes, reduction)


# ---------------------------------------------------------------------- embedding losses


def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Ranking hinge loss max(0, −y·(x1 − x2) + margin)
    (torch.nn.functional.margin_ranking_loss)."""
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2 = _float(input1), _float(input2)
    y = _float(target, like=x1)
    if not (x1.shape == x2.shape == y.shape):
        raise ValueError(
            f"`input1` shape {tuple(x1.shape)}, `input2` shape {tuple(x2.shape)} and `target` "
            f"shape {tuple(y.shape)} must be equal"
        )
    return _reduce(_clamp_min(-y * (x1 - x2) + margin), reduction)


def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Hinge embedding loss: x where y = 1, max(0, margin − x) where y = −1
    (torch.nn.functional.hinge_embedding_loss)."""
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _float(input), jnp.asarray(target)
    _check_same_shape("input", x, "target", y)
    loss = jnp.where(y != 1, _clamp_min(margin - x), 0.0) + jnp.where(y != -1, x, 0.0)
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Cosine embedding loss: 1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where
    y = −1 (torch.nn.functional.cosine_embedding_loss; cos uses torch's ε = 1e-12 on each
    squared norm).

    Shapes: inputs (N, D) with target (N), or inputs (D) with target ().
    """
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2, y = _float(input1), _float(input2), jnp.asarray(target)
    if y.ndim not in (0, 1) or x1.shape != x2.shape or x1.ndim != y.ndim + 1:
        raise ValueError(
            f"`input1` shape {tuple(x1.shape)}, `input2` shape {tuple(x2.shape)} and `target` "
            f"shape {tuple(y.shape)} do not fit: expected inputs (N, D) with target (N), or "
            "inputs (D) with target ()"
        )
    if y.ndim and y.shape[0] != x1.shape[0]:
        raise ValueError(
            f"`target` shape {tuple(y.shape)} does not match the batch of `input1` shape "
            f"{tuple(x1.shape)}"
        )
    eps = 1e-12
    prod = jnp.sum(x1 * x2, axis=-1)
    mag1 = jnp.sum(x1 * x1, axis=-1) + eps
    mag2 = jnp.sum(x2 * x2, axis=-1) + eps
    cos = prod / jnp.sqrt(mag1 * mag2)
    loss = jnp.where(y == 1, 1 - cos, 0.0) + jnp.where(y == -1, _clamp_min(cos - margin), 0.0)
    return _reduce(loss, reduction)


def _pairwise_distance(
    x1: jax.Array, x2: jax.Array, p: float = 2.0, eps: float = 1e-6
) -> jax.Array:
    """‖x1 − x2 + eps‖_p over the last axis (torch.nn.functional.pairwise_distance)."""
    d = x1 - x2 + eps
    if p == 2:
        return jnp.sqrt(jnp.sum(d * d, axis=-1))
    if p == 1:
        return jnp.sum(jnp.abs(d), axis=-1)
    if p == math.inf:
        return jnp.max(jnp.abs(d), axis=-1)
    if p == 0:
        return jnp.sum(d != 0, axis=-1).astype(d.dtype)
    return jnp.sum(jnp.abs(d) ** p, axis=-1) ** (1.0 / p)


def _check_triplet(a: jax.Array, p: jax.Array, n: jax.Array) -> None:
    if not (a.ndim == p.ndim == n.ndim):
        raise ValueError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {a.ndim}D, positive {p.ndim}D, and negative "
            f"{n.ndim}D inputs (shapes {tuple(a.shape)}, {tuple(p.shape)}, {tuple(n.shape)})"
        )


def _triplet(
    a: jax.Array,
    pos: jax.Array,
    neg: jax.Array,
    dist: Callable[[jax.Array, jax.Array], jax.Array],
    margin: float,
    swap: bool,
    reduction: str,
) -> jax.Array:
    """max(0, margin + d(a, p) − d(a, n)) reduced; with `swap`, d(a, n) becomes
    min(d(a, n), d(p, n))."""
    _check_triplet(a, pos, neg)
    d_pos = dist(a, pos)
    d_neg = dist(a, neg)
    if swap:
        d_neg = jnp.minimum(d_neg, dist(pos, neg))
    return _reduce(_clamp_min(margin + d_pos - d_neg), reduction)


def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    """Triplet loss max(0, margin + d(a, p) − d(a, n)), d(u, v) = ‖u − v + eps‖_p; with `swap`,
    d(a, n) becomes min(d(a, n), d(p, n)) (torch.nn.functional.triplet_margin_loss).

    Shapes: (N, D) or (D); 'none' gives (N) or ().
    """
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pos, neg = _float(anchor), _float(positive), _float(negative)
    dist = functools.partial(_pairwise_distance, p=p, eps=eps)
    return _triplet(a, pos, neg, dist, margin, swap, reduction)


def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    """Triplet loss max(0, margin + d(a, p) − d(a, n)) with any distance d (default: pairwise
    Euclidean distance with eps=1e-6) (torch.nn.functional.triplet_margin_with_distance_loss)."""
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(
            f"triplet_margin_with_distance_loss: expected margin to be greater than 0, got "
            f"{margin} instead"
        )
    a, pos, neg = jnp.asarray(anchor), jnp.asarray(positive), jnp.asarray(negative)
    dist = distance_function if distance_function is not None else _pairwise_distance
    return _triplet(a, pos, neg, dist, margin, swap, reduction)


# ---------------------------------------------------------------------- CTC

_NEG = -1e30  # log(0) stand-in: keeps every gradient finite; infeasible alignments → inf below


def _logsumexp3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    m = jnp.maximum(jnp.maximum(a, b), c)
    return m + jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m))


def _ctc_nll(
    log_probs: jax.Array,  # (T, N, C)
    targets: jax.Array,  # (N, S) padded
    input_lengths: jax.Array,  # (N,)
    target_lengths: jax.Array,  # (N,)
    blank: jax.Array,
) -> jax.Array:
    """−log p(target | input) per sample by the forward (alpha) recursion in log space."""
    n_batch, s_max = targets.shape
    targets = jnp.where(jnp.arange(s_max) < target_lengths[:, None], targets, blank)
    # extended labels: blank, l1, blank, l2, ..., blank  (N, 2S+1)
    ext = jnp.full((n_batch, 2 * s_max + 1), blank, targets.dtype).at[:, 1::2].set(targets)
    prev2 = jnp.pad(ext, ((0, 0), (2, 0)), constant_values=blank)[:, :-2]
    can_skip = (ext != blank) & (ext != prev2)
    can_skip = can_skip.at[:, :2].set(False)
    n_ext = ext.shape[1]
    lp = jnp.take_along_axis(log_probs, jnp.broadcast_to(ext, (log_probs.shape[0], *ext.shape)), 2)
    # lp: (T, N, 2S+1) log-probability of each extended label at each step
    neg = jnp.asarray(_NEG, log_probs.dtype)
    first = jnp.full((n_batch, n_ext), neg).at[:, :2].set(lp[0, :, :2])
    first = jnp.where((jnp.arange(n_ext) < 2 * target_lengths[:, None] + 1), first, neg)

    def step(alpha: jax.Array, inputs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        lp_t, t = inputs
        a1 = jnp.pad(alpha, ((0, 0), (1, 0)), constant_values=_NEG)[:, :-1]
        a2 = jnp.pad(alpha, ((0, 0), (2, 0)), constant_values=_NEG)[:, :-2]
        a2 = jnp.where(can_skip, a2, neg)
        new = jnp.maximum(_logsumexp3(alpha, a1, a2) + lp_t, neg)
        return jnp.where((t < input_lengths)[:, None], new, alpha), None

    steps = jnp.arange(1, log_probs.shape[0])
    alpha, _ = jax.lax.scan(step, first, (lp[1:], steps))
    end = 2 * target_lengths  # index of the final blank
    last = jnp.take_along_axis(alpha, end[:, None], 1)[:, 0]
    before = jnp.take_along_axis(alpha, jnp.maximum(end - 1, 0)[:, None], 1)[:, 0]
    before = jnp.where(target_lengths > 0, before, neg)
    m = jnp.maximum(last, before)
    log_lik = m + jnp.log(jnp.exp(last - m) + jnp.exp(before - m))
    return -log_lik


def _as_lengths(lengths: Any, n_batch: int, name: str) -> jax.Array:
    lengths = jnp.asarray(lengths)
    if lengths.ndim == 0:
        lengths = lengths[None]
    if lengths.shape != (n_batch,):
        raise ValueError(f"`{name}` has shape {tuple(lengths.shape)}, expected ({n_batch},)")
    return lengths.astype(jnp.int32)


def ctc_loss(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> jax.Array:
    """Connectionist Temporal Classification loss −log p(target | input), summed over all
    alignments by the forward recursion in log space (lax.scan over time)
    (torch.nn.functional.ctc_loss).

    Shapes: log_probs (T, N, C) (or (T, C) unbatched) of log-probabilities; targets (N, S) padded
    or 1-D concatenated (lengths in `target_lengths`); input_lengths, target_lengths (N).
    'mean' divides each loss by its target length (at least 1), then averages over the batch.
    Infeasible alignments give inf and, as in torch, a NaN gradient (0 and 0 with
    `zero_infinity`).
    The gradient is torch's: the true gradient plus exp(log_probs) at every step t <
    input_length, i.e. the gradient of the logits under a log_softmax that torch assumes.
    Differs from optax.losses.ctc_loss: that one takes logits and pads with log_epsilon.
    """
    _check_reduction(reduction)
    lp = _float(log_probs)
    tg = jnp.asarray(targets)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp[:, None, :]
        tg = tg[None] if tg.ndim == 1 else tg
    if lp.ndim != 3:
        raise ValueError(f"`log_probs` must be (T, N, C) or (T, C), got shape {tuple(lp.shape)}")
    n_time, n_batch, n_classes = lp.shape
    if not 0 <= blank < n_classes:
        raise ValueError(f"`blank` must be in [0, {n_classes}), got {blank}")
    in_len = _as_lengths(input_lengths, n_batch, "input_lengths")
    tg_len = _as_lengths(target_lengths, n_batch, "target_lengths")
    if tg.ndim == 1:  # concatenated targets → padded (N, S)
        s_max = tg.shape[0]
        if _is_concrete(tg_len) and n_batch:  # round up: fewer distinct compiled shapes
            s_max = -(-max(int(jnp.max(tg_len)), 1) // 8) * 8
        offsets = jnp.cumsum(tg_len) - tg_len
        idx = jnp.clip(offsets[:, None] + jnp.arange(s_max), 0, max(tg.shape[0] - 1, 0))
        tg = tg[idx] if tg.shape[0] else jnp.zeros((n_batch, s_max), jnp.int32)
    elif tg.ndim != 2 or tg.shape[0] != n_batch:
        raise ValueError(
            f"`targets` shape {tuple(tg.shape)} does not fit `log_probs` shape "
            f"{tuple(lp.shape)}: expected (N={n_batch}, S) padded or 1-D concatenated"
        )
    # pad S to a multiple of 8 (with blanks past each target length): fewer compiled shapes
    tg = jnp.pad(tg, ((0, 0), (0, -tg.shape[1] % 8 or (8 if tg.shape[1] == 0 else 0))))
    nll = _ctc_core(lp, tg.astype(jnp.int32), in_len, tg_len, blank, bool(zero_infinity))
    if unbatched:
        nll, tg_len = nll[0], tg_len[0]
    if reduction == "mean":
        return jnp.mean(nll / jnp.maximum(tg_len, 1).astype(nll.dtype))
    return _reduce(nll, reduction)


@jax.custom_jvp
def _torch_ctc_grad_term(lp: jax.Array, coef: jax.Array) -> jax.Array:
    """Zero per sample, with gradient coef·exp(lp): the extra term of torch's CTC gradient."""
    return jnp.zeros(lp.shape[1], lp.dtype)


@_torch_ctc_grad_term.defjvp
def _torch_ctc_grad_term_jvp(primals: tuple, tangents: tuple) -> tuple:
    lp, coef = primals
    dlp, _ = tangents
    return _torch_ctc_grad_term(lp, coef), jnp.sum(jnp.exp(lp) * coef * dlp, axis=(0, 2))


@jax.jit
def _ctc_core(
    lp: jax.Array,
    tg: jax.Array,
    in_len: jax.Array,
    tg_len: jax.Array,
    blank: jax.Array,
    zero_infinity: jax.Array,
) -> jax.Array:
    """Per-sample CTC loss (N,) with torch's infinity handling and gradient (one compiled
    program per shape: `blank` and `zero_infinity` are traced)."""
    nll = _ctc_nll(lp, tg, in_len, tg_len, blank)
    infeasible = nll > -_NEG / 2
    # torch's gradient is exp(lp) − (true gradient's magnitude) for t < input_length, NaN for
    # an infeasible sample (inf loss) and 0 for a zeroed one
    valid_t = jnp.arange(lp.shape[0])[:, None] < in_len[None, :]  # (T, N)
    scale = jnp.where(infeasible, jnp.where(zero_infinity, 0.0, jnp.nan), 1.0)
    coef = jax.lax.stop_gradient(jnp.where(valid_t, scale[None, :], 0.0)[..., None])
    nll = jnp.where(infeasible, jnp.where(zero_infinity, 0.0, jnp.inf), nll)
    return nll + _torch_ctc_grad_term(lp, coef)
