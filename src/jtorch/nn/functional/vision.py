"""Resampling: interpolate/upsample, pixel_shuffle, pixel_unshuffle.

Source indices and weights are computed once per axis on the host (in float32, as torch's CPU
kernels do); the array work is a gather and a weighted sum per resized axis ('nearest', linear
modes), or one product with an (out, in) weight matrix per resized axis ('bicubic' and
`antialias=True`, whose windows have several taps, clamped at the borders or of varying width).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtorch.nn.functional._utils import _ntuple
from jtorch.nn.functional.pooling import _adaptive_avg

__all__ = [
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
]

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "area", *_LINEAR_MODES, "bicubic", "lanczos")
_CUBIC_A = {False: np.float32(-0.75), True: np.float32(-0.5)}  # torch: OpenCV's, PIL's (antialias)


def _scale(size: int, out: int, scale: float | None) -> np.float32:
    """torch's compute_scales_value: 1/scale_factor when one was given, else in/out."""
    if scale is not None and scale > 0:
        return np.float32(1.0 / scale)
    return np.float32(size) / np.float32(out)


def _nearest_index(size: int, out: int, scale: float | None, exact: bool) -> np.ndarray:
    dst = np.arange(out, dtype=np.float32)
    s = _scale(size, out, scale)
    src = np.floor((dst + np.float32(0.5)) * s) if exact else np.floor(dst * s)
    return np.minimum(src.astype(np.int64), size - 1)


def _linear_weights(
    size: int, out: int, scale: float | None, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i0, i1, λ1): y[j] = (1 − λ1)·x[i0] + λ1·x[i1] along one axis, torch's source-index rule."""
    dst = np.arange(out, dtype=np.float32)
    if align_corners:
        s = np.float32(size - 1) / np.float32(out - 1) if out > 1 else np.float32(0)
        src = dst * s
    else:
        s = _scale(size, out, scale)
        src = np.maximum(s * (dst + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < size - 1)
    lam = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
    return i0, i1, lam


def _area_scale(size: int, out: int, scale: float | None, align_corners: bool) -> np.float32:
    """torch's area_pixel_compute_scale."""
    if align_corners:
        return np.float32(size - 1) / np.float32(out - 1) if out > 1 else np.float32(0)
    return _scale(size, out, scale)


def _cubic(x: np.ndarray, a: np.float32) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter `a`, in float32 (torch's
    cubic_convolution1 for |x| < 1, cubic_convolution2 for 1 ≤ |x| < 2)."""
    x = np.abs(x).astype(np.float32)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0)).astype(np.float32)


def _bicubic_matrix(size: int, out: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """(out, size) weights of torch's upsample_bicubic2d along one axis: taps at ⌊src⌋−1..⌊src⌋+2
    (clamped to the input) with Keys' a = −0.75 at the fractional offset of src."""
    s = _area_scale(size, out, scale, align_corners)
    dst = np.arange(out, dtype=np.float32)
    src = dst * s if align_corners else s * (dst + np.float32(0.5)) - np.float32(0.5)
    index = np.minimum(np.floor(src).astype(np.int64), size - 1)
    t = np.clip(src - index.astype(np.float32), 0, 1).astype(np.float32)
    a = _CUBIC_A[False]
    taps = [_cubic(t + 1, a), _cubic(t, a), _cubic(1 - t, a), _cubic(2 - t, a)]
    m = np.zeros((out, size), np.float32)
    for j, w in enumerate(taps):
        np.add.at(m, (np.arange(out), np.clip(index + j - 1, 0, size - 1)), w)
    return m


def _sinc(x: np.ndarray) -> np.ndarray:
    """sin(πx)/(πx), 1 at 0, in float32."""
    px = (x * np.float32(np.pi)).astype(np.float32)
    return np.where(x == 0, 1, np.sin(px) / np.where(x == 0, 1, px)).astype(np.float32)


def _aa_filter(mode: str, x: np.ndarray) -> np.ndarray:
    """torch's (PIL's) antialiasing filters: triangle, Keys a = −0.5, Lanczos-3."""
    if mode == "bilinear":
        return np.maximum(0, 1 - np.abs(x)).astype(np.float32)
    if mode == "bicubic":
        return _cubic(x, _CUBIC_A[True])
    x = np.abs(x)
    return np.where(x < 3, _sinc(x) * _sinc((x / 3).astype(np.float32)), 0).astype(np.float32)


_AA_TAPS = {"bilinear": 2, "bicubic": 4, "lanczos": 6}


def _antialias_matrix(
    size: int, out: int, scale: float | None, align_corners: bool, mode: str
) -> np.ndarray:
    """(out, size) weights of torch's antialiased resampling (PIL's): the mode's filter
    stretched by the downscale factor, normalised per output."""
    s = _area_scale(size, out, scale, align_corners)
    taps = _AA_TAPS[mode]
    support = np.float32(taps * 0.5 * s) if s >= 1 else np.float32(taps * 0.5)
    invscale = np.float32(1 / s) if s >= 1 else np.float32(1)
    m = np.zeros((out, size), np.float32)
    for i in range(out):
        center = np.float32(float(s) * (i + 0.5))
        lo = max(int(float(center - support) + 0.5), 0)
        hi = min(int(float(center + support) + 0.5), size)
        hi = min(hi, lo + 2 * math.ceil(support) + 1)
        x = ((np.arange(lo, hi, dtype=np.float32) - center + 0.5) * invscale).astype(np.float32)
        w = _aa_filter(mode, x)
        total = np.float32(w.sum(dtype=np.float32))
        m[i, lo:hi] = w / total if total != 0 else w
    return m


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> jax.Array:
    """Resize the spatial axes of (N, C, *spatial) to `size` or ⌊in·scale_factor⌋.

    Modes: 'nearest' (src = ⌊dst·in/out⌋), 'nearest-exact', 'linear'/'bilinear'/'trilinear'
    and 'bicubic' (with `align_corners`), 'area' (adaptive average pooling), 'lanczos'
    (Lanczos-3, antialias only), as torch.nn.functional.interpolate. `antialias=True`
    (bilinear, bicubic, lanczos; 4-D input) widens the filter by the downscale factor, as torch
    and PIL do.
    """
    x = jnp.asarray(input)
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"interpolate: `input` must have shape (N, C, *spatial) with 1 to 3 spatial axes "
            f"(3-D to 5-D), got shape {tuple(x.shape)}"
        )
    n = x.ndim - 2
    if mode not in _MODES:
        raise ValueError(f"interpolate: `mode` must be one of {_MODES}, got {mode!r}")
    if antialias and not (mode in _AA_TAPS and n == 2):
        raise ValueError(
            "interpolate: `antialias`=True is restricted to the bilinear, bicubic and lanczos "
            f"modes and a 4-D input, got mode {mode!r} and shape {tuple(x.shape)}"
        )
    if mode == "lanczos" and (align_corners or not antialias):
        raise ValueError(
            "interpolate: mode 'lanczos' requires `antialias`=True and does not support "
            f"`align_corners`=True, got antialias={antialias}, align_corners={align_corners}"
        )
    if mode in _LINEAR_MODES or mode in _AA_TAPS:
        dims = _LINEAR_MODES.get(mode, 2)
        if dims != n:
            raise ValueError(
                f"interpolate: mode {mode!r} needs a {dims + 2}-D input, got shape {tuple(x.shape)}"
            )
        align_corners = bool(align_corners)
    elif align_corners is not None:
        raise ValueError(
            "interpolate: `align_corners` can only be set with the interpolating modes "
            f"linear | bilinear | bicubic | lanczos | trilinear, got mode {mode!r}"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of `size` and `scale_factor` must be given")
    sizes = x.shape[2:]
    if size is not None:
        outs = tuple(int(o) for o in _ntuple(size, n, "size"))
        scales: tuple[Any, ...] = (None,) * n
    else:
        scales = tuple(float(f) for f in _ntuple(scale_factor, n, "scale_factor"))
        outs = tuple(math.floor(float(s) * f) for s, f in zip(sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * n
    if any(o <= 0 for o in outs):
        raise ValueError(
            f"interpolate: output size {outs} must be positive (input shape {tuple(x.shape)})"
        )
    if mode == "area":
        return _adaptive_avg("interpolate", n, x, outs)
    if (antialias or mode == "bicubic") and not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(
            f"interpolate: mode {mode!r} with antialias={antialias} needs a floating-point "
            f"`input`, got {x.dtype} (convert it, e.g. x.astype(jnp.float32))"
        )
    y = x
    for axis, (size_i, out, scale) in enumerate(zip(sizes, outs, scales), start=2):
        if antialias or mode == "bicubic":
            if antialias and out == size_i:
                continue  # torch copies an axis it does not resize
            if antialias:
                m = _antialias_matrix(size_i, out, scale, align_corners, mode)
            else:
                m = _bicubic_matrix(size_i, out, scale, align_corners)
            m = jnp.asarray(m, y.dtype)
            y = jnp.tensordot(y, m, axes=[[axis], [1]], precision=jax.lax.Precision.HIGHEST)
            y = jnp.moveaxis(y, -1, axis)
        elif mode.startswith("nearest"):
            if out != size_i:
                index = _nearest_index(size_i, out, scale, mode == "nearest-exact")
                y = jnp.take(y, jnp.asarray(index), axis=axis)
        else:
            i0, i1, lam = _linear_weights(size_i, out, scale, align_corners)
            shape = (out,) + (1,) * (y.ndim - axis - 1)
            lam = jnp.asarray(lam, y.dtype).reshape(shape)
            a = jnp.take(y, jnp.asarray(i0), axis=axis)
            b = jnp.take(y, jnp.asarray(i1), axis=axis)
            y = a * (1 - lam) + b * lam
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Alias of interpolate (torch.nn.functional.upsample)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """interpolate(..., mode='nearest') (torch.nn.functional.upsample_nearest)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """interpolate(..., mode='bilinear', align_corners=True) (torch upsample_bilinear)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Any, upscale_factor: int) -> jax.Array:
    """(*, C·r², H, W) -> (*, C, H·r, W·r): y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]."""
    x = jnp.asarray(input)
    r = int(upscale_factor)
    if x.ndim < 3 or r <= 0 or x.shape[-3] % (r * r):
        raise ValueError(
            f"pixel_shuffle: `input` must have shape (*, C·r², H, W) with r=upscale_factor="
            f"{upscale_factor} (channels divisible by {r * r}), got shape {tuple(x.shape)}"
        )
    *batch, c, h, w = x.shape
    y = x.reshape(*batch, c // (r * r), r, r, h, w)
    k = len(batch)
    y = jnp.transpose(y, (*range(k), k, k + 3, k + 1, k + 4, k + 2))  # (*, C, H, r, W, r)
    return y.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Any, downscale_factor: int) -> jax.Array:
    """(*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of pixel_shuffle."""
    x = jnp.asarray(input)
    r = int(downscale_factor)
    if x.ndim < 3 or r <= 0 or x.shape[-2] % r or x.shape[-1] % r:
        raise ValueError(
            f"pixel_unshuffle: `input` must have shape (*, C, H·r, W·r) with r=downscale_factor="
            f"{downscale_factor}, got shape {tuple(x.shape)}"
        )
    *batch, c, h, w = x.shape
    y = x.reshape(*batch, c, h // r, r, w // r, r)
    k = len(batch)
    y = jnp.transpose(y, (*range(k), k, k + 2, k + 4, k + 1, k + 3))  # (*, C, r, r, H, W)
    return y.reshape(*batch, c * r * r, h // r, w // r)
