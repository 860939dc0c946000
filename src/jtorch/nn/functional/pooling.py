"""Max, average, adaptive and power-average pooling in torch layouts.

Max and average pooling lower to one `lax.reduce_window`. Max pooling over non-overlapping
windows (stride = kernel, no padding or dilation, the usual 2×2/2) instead takes the elementwise
maximum of the K strided views with a custom VJP: XLA:CPU differentiates a reduce-window max with
select_and_scatter, a window-argmax reduce-window plus a scatter that cost several times the
forward. Two cases take a gather-free fallback that stacks the K strided views of the padded input
(one per kernel offset, never per element): max pooling with dilation > 1 (JAX has no VJP for
dilated max windows) and `return_indices=True`.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jtorch.nn.functional._utils import _ntuple

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def _batched(fn: str, input: Any, n: int) -> tuple[jax.Array, bool]:
    x = jnp.asarray(input)
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim != n + 2:
        raise ValueError(
            f"{fn}: `input` must have shape {_LAYOUT[n]} ({n + 2}-D) or unbatched "
            f"({n + 1}-D), got shape {tuple(x.shape)}"
        )
    return x, False


def _window_args(
    fn: str, n: int, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1
) -> tuple[tuple[int, ...], ...]:
    """Check pooling window arguments as torch does and return them as n-tuples (k, s, p, d):
    kernel_size, stride (default kernel_size) and dilation positive ints, 0 ≤ padding ≤ k/2.
    Used by the functions and by the module constructors, so a bad value fails where it is given.
    """
    k = _ntuple(kernel_size, n, "kernel_size")
    s = k if stride is None or stride == [] or stride == () else _ntuple(stride, n, "stride")
    p = _ntuple(padding, n, "padding")
    d = _ntuple(dilation, n, "dilation")
    for name, values in (("kernel_size", k), ("stride", s), ("padding", p), ("dilation", d)):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{fn}: `{name}` must be an int or a tuple of {n} ints, got {values!r}")
    for name, values in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if any(v <= 0 for v in values):
            raise ValueError(f"{fn}: `{name}` must be greater than zero, got {values}")
    if any(pi < 0 for pi in p):
        raise ValueError(f"{fn}: `padding` must be non-negative, got {p}")
    if any(2 * pi > ki for pi, ki in zip(p, k)):
        raise ValueError(
            f"{fn}: `padding`={p} should be at most half of `kernel_size`={k} on every axis"
        )
    return k, s, p, d


def _geometry(
    fn: str,
    x: jax.Array,
    n: int,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple[tuple[int, ...], ...]:
    """Normalise the arguments; return (k, s, p, d, out, extra right padding) per spatial axis."""
    k, s, p, d = _window_args(fn, n, kernel_size, stride, padding, dilation)
    outs, extras = [], []
    for size, ki, si, pi, di in zip(x.shape[2:], k, s, p, d):
        span = size + 2 * pi - di * (ki - 1) - 1
        out = (span + (si - 1 if ceil_mode else 0)) // si + 1
        if ceil_mode and (out - 1) * si >= size + pi:
            out -= 1
        if out <= 0:
            raise ValueError(
                f"{fn}: input of shape {tuple(x.shape)} is too small for kernel_size={k}, "
                f"stride={s}, padding={p}, dilation={d} (output size {out} per axis)"
            )
        outs.append(out)
        extras.append(max(0, (out - 1) * si + di * (ki - 1) + 1 - (size + 2 * pi)))
    return k, s, p, d, tuple(outs), tuple(extras)


def _window_views(
    x: jax.Array, k, s, p, d, outs, extras, fill: float
) -> tuple[jax.Array, np.ndarray, np.ndarray]:
    """The K = Πk strided views of the padded input, stacked: (K, N, C, *out); for each view
    the flat input index (row-major over the spatial axes) of every output position: (K, *out);
    and whether that position lies inside the input rather than in the padding: (K, *out)."""
    n = len(k)
    xp = lax.pad(
        x,
        jnp.asarray(fill, x.dtype),
        [(0, 0, 0)] * 2 + [(pi, pi + e, 0) for pi, e in zip(p, extras)],
    )
    sizes = x.shape[2:]
    flat_strides = [math.prod(sizes[i + 1 :]) for i in range(n)]
    views, flat, inside = [], [], []
    for offs in itertools.product(*(range(ki) for ki in k)):
        start = tuple(o * di for o, di in zip(offs, d))
        limit = tuple(st + (o - 1) * si + 1 for st, o, si in zip(start, outs, s))
        views.append(lax.slice(xp, (0, 0) + start, x.shape[:2] + limit, (1, 1) + s))
        axes = [np.arange(o) * si - pi + st for o, si, pi, st in zip(outs, s, p, start)]
        coords = np.ix_(*axes)
        flat.append(np.broadcast_to(sum(c * fs for c, fs in zip(coords, flat_strides)), outs))
        valid = [(c >= 0) & (c < size) for c, size in zip(coords, sizes)]
        inside.append(np.broadcast_to(functools.reduce(np.logical_and, valid), outs))
    return jnp.stack(views), np.stack(flat), np.stack(inside)


def _window_argmax(views: jax.Array, inside: np.ndarray, lowest: Any) -> jax.Array:
    """Per output, the view holding the window's maximum as torch's CPU kernel picks it: over
    the positions inside the input only, the first maximum, or the last NaN of a window holding
    NaN; a window of nothing but −∞ (or the dtype's lowest) picks its first inside position."""
    masked = jnp.where(inside[:, None, None], views, jnp.asarray(lowest, views.dtype))
    pick = jnp.argmax(masked, axis=0)
    first_inside = jnp.asarray(np.argmax(inside, axis=0))
    best = jnp.take_along_axis(masked, pick[None], axis=0)[0]
    pick = jnp.where(best == lowest, first_inside, pick)
    if jnp.issubdtype(views.dtype, jnp.floating):
        nan = jnp.isnan(masked)
        last_nan = nan.shape[0] - 1 - jnp.argmax(nan[::-1], axis=0)
        pick = jnp.where(jnp.any(nan, axis=0), last_nan, pick)
    return pick


def _tile_views(x: jax.Array, k: tuple[int, ...]) -> list[jax.Array]:
    """The K = Πk strided views x[..., i::k0, j::k1, ...] of non-overlapping windows, in row-major
    window order, each cropped to the ⌊size/k⌋ whole windows per axis (torch's floor mode)."""
    outs = tuple(size // ki for size, ki in zip(x.shape[2:], k))
    views = []
    for offs in itertools.product(*(range(ki) for ki in k)):
        limit = tuple(o + (n - 1) * ki + 1 for o, n, ki in zip(offs, outs, k))
        views.append(lax.slice(x, (0, 0) + offs, x.shape[:2] + limit, (1, 1) + k))
    return views


def _views_max(views: list[jax.Array]) -> jax.Array:
    """Elementwise maximum of the views; NaN propagates, as in torch."""
    return functools.reduce(jnp.maximum, views)


def _upsample(a: jax.Array, k: tuple[int, ...]) -> jax.Array:
    """Repeat every element of `a` over its k0×k1×… window: (N, C, *out) -> (N, C, *(out·k))."""
    outs = a.shape[2:]
    windows = a.shape[:2] + tuple(v for o, ki in zip(outs, k) for v in (o, ki))
    spread = lax.broadcast_in_dim(a, windows, (0, 1) + tuple(2 + 2 * i for i in range(len(k))))
    return spread.reshape(a.shape[:2] + tuple(o * ki for o, ki in zip(outs, k)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _tile_max(x: jax.Array, k: tuple[int, ...]) -> jax.Array:
    """Max over non-overlapping k-windows of float (N, C, *spatial), with torch's gradient."""
    return _views_max(_tile_views(x, k))


def _tile_max_fwd(x: jax.Array, k: tuple[int, ...]) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    y = _tile_max(x, k)
    return y, (x, y)


def _tile_max_bwd(k: tuple[int, ...], res: tuple[jax.Array, ...], g: jax.Array):
    """Route each window's gradient to one element, as torch's CPU kernel picks it: the first
    maximum in row-major window order, or, in a window holding NaN, the last NaN. Everything is
    elementwise over the output and then over the input, so XLA fuses it into one pass."""
    x, y = res
    views = _tile_views(x, k)
    dtype = np.int8 if len(views) <= np.iinfo(np.int8).max else np.int32
    first = jnp.zeros(y.shape, dtype)
    last_nan = jnp.zeros(y.shape, dtype)
    for i, v in reversed(list(enumerate(views))):
        first = jnp.where(v == y, dtype(i), first)
    for i, v in enumerate(views):
        last_nan = jnp.where(jnp.isnan(v), dtype(i), last_nan)
    pick = jnp.where(jnp.isnan(y), last_nan, first)
    windows = tuple(v for o, ki in zip(y.shape[2:], k) for v in (o, ki))
    full = tuple(o * ki for o, ki in zip(y.shape[2:], k))
    offset = sum(  # row-major position inside its window of every input element
        lax.broadcasted_iota(dtype, windows, 2 * a + 1) * dtype(math.prod(k[a + 1 :]))
        for a in range(len(k))
    ).reshape(full)
    dx = jnp.where(_upsample(pick, k) == offset, _upsample(g, k), jnp.zeros((), g.dtype))
    crop = [(0, 0, 0)] * 2 + [(0, size - f, 0) for size, f in zip(x.shape[2:], full)]
    return (lax.pad(dx, jnp.zeros((), g.dtype), crop),)


_tile_max.defvjp(_tile_max_fwd, _tile_max_bwd)


def _max_pool(
    fn, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
) -> Any:
    x, unbatched = _batched(fn, input, n)
    k, s, p, d, outs, extras = _geometry(
        fn, x, n, kernel_size, stride, padding, dilation, ceil_mode
    )
    floating = jnp.issubdtype(x.dtype, jnp.floating)
    if not return_indices and s == k and not any(p) and set(d) == {1} and not any(extras):
        y = _tile_max(x, k) if floating else _views_max(_tile_views(x, k))
        return y[0] if unbatched else y
    lowest = -jnp.inf if floating else jnp.iinfo(x.dtype).min
    if return_indices or any(di != 1 for di in d):
        views, flat, inside = _window_views(x, k, s, p, d, outs, extras, lowest)
        arg = _window_argmax(views, inside, lowest)[None]
        y = jnp.take_along_axis(views, arg, axis=0)[0]
        if unbatched:
            y = y[0]
        if not return_indices:
            return y
        table = jnp.broadcast_to(jnp.asarray(flat)[:, None, None], views.shape)
        idx = jnp.take_along_axis(table, arg, axis=0)[0]
        return y, (idx[0] if unbatched else idx)
    y = lax.reduce_window(
        x,
        np.array(lowest, x.dtype),  # a concrete identity: differentiable window max
        lax.max,
        (1, 1) + k,
        (1, 1) + s,
        [(0, 0)] * 2 + [(pi, pi + e) for pi, e in zip(p, extras)],
    )
    return y[0] if unbatched else y


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
) -> Any:
    """Max over windows of (N, C, L): y[l] = max_k x[s·l − p + d·k] (torch max_pool1d).

    Padding counts as −∞. With `return_indices=True` also returns the flat input index of each max.
    """
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
) -> Any:
    """Max over kH×kW windows of (N, C, H, W); stride defaults to kernel_size (torch max_pool2d).

    With `return_indices=True` also returns, per output, the flat index h·W + w of its maximum.
    """
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
) -> Any:
    """Max over kD×kH×kW windows of (N, C, D, H, W) (torch max_pool3d)."""
    return _max_pool(
        "max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def _avg_divisor(sizes, k, s, p, outs, count_include_pad: bool) -> np.ndarray:
    """Per-output window sizes as torch counts them: clipped to [−p, L+p) or to [0, L)."""
    counts = []
    for size, ki, si, pi, o in zip(sizes, k, s, p, outs):
        start = np.arange(o) * si - pi
        end = np.minimum(start + ki, size + pi)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        counts.append(end - start)
    return math.prod(np.ix_(*counts)) if len(counts) > 1 else counts[0]


def _avg_pool(
    fn, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
) -> jax.Array:
    x, unbatched = _batched(fn, input, n)
    k, s, p, _, outs, extras = _geometry(fn, x, n, kernel_size, stride, padding, 1, ceil_mode)
    total = lax.reduce_window(
        x,
        np.array(0, x.dtype),
        lax.add,
        (1, 1) + k,
        (1, 1) + s,
        [(0, 0)] * 2 + [(pi, pi + e) for pi, e in zip(p, extras)],
    )
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{fn}: `divisor_override` must not be zero")
    if divisor_override:
        y = total / jnp.asarray(divisor_override, x.dtype)
    else:
        divisor = _avg_divisor(x.shape[2:], k, s, p, outs, count_include_pad)
        y = total / jnp.asarray(divisor, x.dtype)
    return y[0] if unbatched else y


def avg_pool1d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
) -> jax.Array:
    """Mean over windows of (N, C, L); the divisor counts padding iff `count_include_pad`."""
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
) -> jax.Array:
    """Σ window / divisor over (N, C, H, W): divisor = `divisor_override`, else the window size
    (clipped to the padded input, or to the input when `count_include_pad=False`)."""
    return _avg_pool(
        "avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
        divisor_override,
    )  # fmt: skip


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
) -> jax.Array:
    """Mean over kD×kH×kW windows of (N, C, D, H, W) (torch avg_pool3d)."""
    return _avg_pool(
        "avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
        divisor_override,
    )  # fmt: skip


def _output_sizes(fn: str, x: jax.Array, n: int, output_size: Any) -> tuple[int, ...]:
    outs = _ntuple(output_size, n, "output_size")
    outs = tuple(size if o is None else int(o) for o, size in zip(outs, x.shape[2:]))
    if any(o <= 0 for o in outs):
        raise ValueError(f"{fn}: `output_size` must be positive, got {output_size!r}")
    return outs


def _bin_mask(size: int, out: int) -> np.ndarray:
    """(out, size) membership of torch's adaptive bins [⌊i·L/O⌋, ⌈(i+1)·L/O⌉)."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    j = np.arange(size)
    return (j >= start[:, None]) & (j < end[:, None])


def _adaptive_avg(fn: str, n: int, input: Any, output_size: Any) -> jax.Array:
    x, unbatched = _batched(fn, input, n)
    outs = _output_sizes(fn, x, n, output_size)
    sizes = x.shape[2:]
    if all(size % o == 0 for size, o in zip(sizes, outs)):  # equal bins: one reduce_window
        k = tuple(size // o for size, o in zip(sizes, outs))
        y = lax.reduce_window(x, np.array(0, x.dtype), lax.add, (1, 1) + k, (1, 1) + k, "VALID")
        y = y / jnp.asarray(math.prod(k), x.dtype)
    else:  # uneven bins: one averaging matrix per axis
        y = x
        for axis, (size, o) in enumerate(zip(sizes, outs), start=2):
            mask = _bin_mask(size, o)
            weights = jnp.asarray(mask / mask.sum(1, keepdims=True), x.dtype)  # (O, L)
            y = jnp.moveaxis(jnp.tensordot(y, weights, axes=[[axis], [1]]), -1, axis)
    return y[0] if unbatched else y


def adaptive_avg_pool1d(input: Any, output_size: Any) -> jax.Array:
    """Mean over O bins of (N, C, L), bin i = [⌊i·L/O⌋, ⌈(i+1)·L/O⌉) (torch adaptive_avg_pool1d)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> jax.Array:
    """Mean over torch's adaptive bins of (N, C, H, W); an output size of None keeps that axis."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Any, output_size: Any) -> jax.Array:
    """Mean over torch's adaptive bins of (N, C, D, H, W)."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(fn: str, n: int, input: Any, output_size: Any, return_indices: bool) -> Any:
    x, unbatched = _batched(fn, input, n)
    outs = _output_sizes(fn, x, n, output_size)
    sizes = x.shape[2:]
    lowest = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
    # one axis at a time, last first: keep the first maximum and its flat input index
    y, idx = x, jnp.zeros(x.shape, jnp.int32)
    for axis in reversed(range(2, n + 2)):
        size, o = sizes[axis - 2], outs[axis - 2]
        mask = jnp.asarray(_bin_mask(size, o))  # (O, L)
        ym, im = jnp.moveaxis(y, axis, -1), jnp.moveaxis(idx, axis, -1)  # (..., L)
        arg = jnp.argmax(jnp.where(mask, ym[..., None, :], lowest), axis=-1)  # (..., O)
        y = jnp.moveaxis(jnp.take_along_axis(ym, arg, axis=-1), -1, axis)
        flat = jnp.take_along_axis(im, arg, axis=-1) + arg * math.prod(sizes[axis - 1 :])
        idx = jnp.moveaxis(flat, -1, axis)
    if unbatched:
        y, idx = y[0], idx[0]
    return (y, idx) if return_indices else y


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max over torch's adaptive bins of (N, C, L) (torch adaptive_max_pool1d)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max over torch's adaptive bins [⌊i·H/O⌋, ⌈(i+1)·H/O⌉) × (same for W) of (N, C, H, W)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Max over torch's adaptive bins of (N, C, D, H, W)."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def _lp_pool(fn, n, input, norm_type, kernel_size, stride, ceil_mode) -> jax.Array:
    x = jnp.asarray(input)
    k = _ntuple(kernel_size, n, "kernel_size")
    if norm_type == 0:
        raise ValueError(f"{fn}: `norm_type` must not be zero (the result is Σ x^p to 1/p)")
    pool = (max_pool1d, max_pool2d, max_pool3d)[n - 1]
    if norm_type == float("inf"):
        return pool(jnp.abs(x), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -pool(-jnp.abs(x), kernel_size, stride, 0, 1, ceil_mode)
    avg = (avg_pool1d, avg_pool2d, avg_pool3d)[n - 1]
    power = int(norm_type) if float(norm_type).is_integer() else norm_type  # x^2 of x < 0 is fine
    total = avg(x**power, kernel_size, stride, 0, ceil_mode) * math.prod(k)
    # torch's gradient is zero where a window's Σ x^p is zero (its relu masks the infinite
    # derivative of t^(1/p) at 0); the double `where` keeps that infinity out of the graph here
    zero = total == 0
    root = jnp.where(zero, jnp.ones((), total.dtype), total) ** (1.0 / norm_type)
    return jnp.where(zero, jnp.zeros((), total.dtype), root)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> jax.Array:
    """Power-average pooling (Σ_window x^p)^(1/p) over (N, C, L) (torch lp_pool1d)."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> jax.Array:
    """Power-average pooling (Σ_window x^p)^(1/p) over (N, C, H, W) (torch lp_pool2d)."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> jax.Array:
    """Power-average pooling (Σ_window x^p)^(1/p) over (N, C, D, H, W) (torch lp_pool3d)."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _unpool_args(fn, n, kernel_size, stride=None, padding=0) -> tuple[tuple[int, ...], ...]:
    """Unpooling's (k, s, p) as n-tuples: positive kernel_size and stride, padding ≥ 0 (torch
    does not bound an unpooling padding by the kernel)."""
    k, s, _, _ = _window_args(fn, n, kernel_size, stride)
    p = _ntuple(padding, n, "padding")
    if not all(isinstance(v, (int, np.integer)) and v >= 0 for v in p):
        raise ValueError(f"{fn}: `padding` must be non-negative ints, got {p}")
    return k, s, p


def _unpool_sizes(fn, x, n, k, s, p, output_size) -> tuple[int, ...]:
    """torch's unpooled spatial size: (L − 1)·s + k − 2p, or `output_size` within ±stride of it."""
    default = tuple((size - 1) * si + ki - 2 * pi for size, ki, si, pi in zip(x.shape[2:], k, s, p))
    if output_size is None:
        outs = default
    else:
        outs = tuple(int(o) for o in output_size)
        if len(outs) == n + 2:
            outs = outs[2:]
        if len(outs) != n:
            raise ValueError(
                f"{fn}: `output_size` must have {n} or {n + 2} entries, got {output_size!r}"
            )
        for axis, (o, dflt, si) in enumerate(zip(outs, default, s)):
            if not dflt - si < o < dflt + si:
                raise ValueError(
                    f"{fn}: invalid `output_size` {output_size!r} (spatial axis {axis} must be "
                    f"strictly between {dflt - si} and {dflt + si})"
                )
    if any(o < 0 for o in outs):
        raise ValueError(f"{fn}: the output size {outs} is negative; check `padding`={p}")
    return outs


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _scatter_planes(x: jax.Array, idx: jax.Array, plane: int) -> jax.Array:
    """(M, L) values into (M, plane) zeros at flat positions `idx`; out-of-range ones dropped."""
    rows = jnp.arange(x.shape[0])[:, None]
    return jnp.zeros((x.shape[0], plane), x.dtype).at[rows, idx].set(x, mode="drop")


def _scatter_planes_fwd(x, idx, plane):
    return _scatter_planes(x, idx, plane), idx


def _scatter_planes_bwd(plane, idx, g):
    """torch's gradient: every input reads the output gradient at its index (a gather), also
    when several inputs share an index (overlapping pooling windows)."""
    return jnp.take_along_axis(g, idx, axis=1, mode="fill", fill_value=0), None


_scatter_planes.defvjp(_scatter_planes_fwd, _scatter_planes_bwd)


def _max_unpool(fn, n, input, indices, kernel_size, stride, padding, output_size) -> jax.Array:
    x, unbatched = _batched(fn, input, n)
    idx = jnp.asarray(indices)
    if idx.shape != jnp.shape(input):
        raise ValueError(
            f"{fn}: `indices` must have the shape of `input` {tuple(jnp.shape(input))}, "
            f"got {tuple(idx.shape)}"
        )
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise ValueError(f"{fn}: `indices` must be integers, got dtype {idx.dtype}")
    k, s, p = _unpool_args(fn, n, kernel_size, stride, padding)
    outs = _unpool_sizes(fn, x, n, k, s, p, output_size)
    plane = math.prod(outs)
    if (
        not isinstance(idx, jax.core.Tracer)
        and idx.size
        and (int(idx.min()) < 0 or int(idx.max()) >= plane)
    ):
        raise ValueError(
            f"{fn}: `indices` hold values in [{int(idx.min())}, {int(idx.max())}], outside the "
            f"output plane of size {outs} (valid: 0 to {plane - 1})"
        )
    if unbatched:
        idx = idx[None]
    rows = x.shape[0] * x.shape[1]
    y = _scatter_planes(x.reshape(rows, -1), idx.reshape(rows, -1).astype(jnp.int32), plane)
    y = y.reshape(x.shape[:2] + outs)
    return y[0] if unbatched else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d: zeros of length (L − 1)·s + k − 2p (or `output_size`)
    holding each input value at its index from `max_pool1d(..., return_indices=True)`.

    Where several inputs share an index, one of them (all equal when they come from max
    pooling) is written, and each receives the gradient at that index, as in torch.

    Differs from torch: inside `jit` an out-of-range index is dropped (outside it raises).
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d over (N, C, H, W): each value goes to its flat index h·W + w
    of a zero plane (torch max_unpool2d; see max_unpool1d for indices)."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool3d over (N, C, D, H, W) (torch max_unpool3d)."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
