"""oneDNN convolutions as XLA FFI custom calls for the CPU, differentiable and jit/vmap-safe.

The FFI targets (csrc/onednn_conv.cc, registered by `jtorch._backend.native`) compute forward
(+ bias, + fused ReLU), backward-data, backward-weights (+ bias gradient) and both backward
passes in one call, in torch's shapes (NC..., OI...). Here they are wrapped in `jax.custom_vjp`s
whose backward passes call the backward primitives. Activations are declared channels-last to
XLA where `jtorch._backend.layout` says so.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtorch._backend.layout import channels_last_layout, conv_channels_last

__all__ = ["conv_nd", "conv_transpose_nd"]


class _Cfg(NamedTuple):
    """Static description of a convolution in oneDNN's forward view (torch step dilation)."""

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_l: tuple[int, ...]
    pad_r: tuple[int, ...]
    groups: int
    has_bias: bool
    relu: bool = False
    channels_last: bool = False

    def attrs(self) -> dict:
        return dict(
            stride=np.asarray(self.stride, np.int64),
            dilation=np.asarray(self.dilation, np.int64),
            pad_l=np.asarray(self.pad_l, np.int64),
            pad_r=np.asarray(self.pad_r, np.int64),
            groups=np.int64(self.groups),
            channels_last=np.int64(self.channels_last),
        )

    def data_layout(self, ndim: int) -> tuple[int, ...] | None:
        """Axis order (major to minor) of activations in memory: channels-last (N, *spatial, C),
        or None for row-major."""
        return channels_last_layout(ndim) if self.channels_last else None


# vmap: "sequential" maps the custom call over the vmapped axis one slice at a time (correct
# for every batching pattern; jtorch's own layers never vmap a convolution).
_VMAP = "sequential"


def _fwd_call(x, w, b, cfg: _Cfg, out_spatial: tuple[int, ...]):
    shape = (x.shape[0], w.shape[0]) + tuple(out_spatial)
    layout = cfg.data_layout(x.ndim)
    return jax.ffi.ffi_call(
        "jtorch_onednn_conv_fwd",
        jax.ShapeDtypeStruct(shape, jnp.float32),
        vmap_method=_VMAP,
        input_layouts=[layout, None, None],
        output_layouts=layout,
    )(x, w, b, **cfg.attrs(), has_bias=np.int64(cfg.has_bias), relu=np.int64(cfg.relu))


def _bwd_data_call(dy, w, src_shape: tuple[int, ...], cfg: _Cfg):
    layout = cfg.data_layout(dy.ndim)
    return jax.ffi.ffi_call(
        "jtorch_onednn_conv_bwd_data",
        jax.ShapeDtypeStruct(src_shape, jnp.float32),
        vmap_method=_VMAP,
        input_layouts=[layout, None],
        output_layouts=layout,
    )(dy, w, **cfg.attrs())


def _bwd_weights_call(x, dy, w_shape: tuple[int, ...], cfg: _Cfg):
    return jax.ffi.ffi_call(
        "jtorch_onednn_conv_bwd_weights",
        (
            jax.ShapeDtypeStruct(w_shape, jnp.float32),
            jax.ShapeDtypeStruct((w_shape[0],), jnp.float32),
        ),
        vmap_method=_VMAP,
        input_layouts=[cfg.data_layout(x.ndim)] * 2,
        output_layouts=[None, None],
    )(x, dy, **cfg.attrs(), has_bias=np.int64(cfg.has_bias))


def _bwd_call(x, w, dy, cfg: _Cfg):
    """dx, dw, db in one custom call (backward-data then backward-weights)."""
    f32 = jnp.float32
    return jax.ffi.ffi_call(
        "jtorch_onednn_conv_bwd",
        (
            jax.ShapeDtypeStruct(x.shape, f32),
            jax.ShapeDtypeStruct(w.shape, f32),
            jax.ShapeDtypeStruct((w.shape[0],), f32),
        ),
        vmap_method=_VMAP,
        input_layouts=[cfg.data_layout(x.ndim), None, cfg.data_layout(x.ndim)],
        output_layouts=[cfg.data_layout(x.ndim), None, None],
    )(x, w, dy, **cfg.attrs(), has_bias=np.int64(cfg.has_bias))


def _out_spatial(spatial, kernel, cfg: _Cfg) -> tuple[int, ...]:
    """Output size per spatial axis of a convolution with `kernel` and cfg's strides and pads."""
    return tuple(
        (size + lo + hi - d * (k - 1) - 1) // s + 1
        for size, k, s, d, lo, hi in zip(
            spatial, kernel, cfg.stride, cfg.dilation, cfg.pad_l, cfg.pad_r
        )
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _conv(x, w, b, cfg: _Cfg):
    return _fwd_call(x, w, b, cfg, _out_spatial(x.shape[2:], w.shape[2:], cfg))


def _conv_fwd(x, w, b, cfg: _Cfg):
    # symbolic_zeros: x, w, b arrive as CustomVJPPrimal(value, perturbed). The backward pass
    # skips backward-data when the input is not differentiated (a first layer's batch) and
    # backward-weights when neither weight nor bias is; the residuals carry that in their tree
    # structure (() for yes, None for no), which stays static under jit.
    y = _conv(x.value, w.value, b.value, cfg)
    need = (() if x.perturbed else None, () if w.perturbed or b.perturbed else None)
    return y, (x.value, w.value, y if cfg.relu else None, need)


def _conv_bwd(cfg: _Cfg, res, g):
    x, w, y, (need_dx, need_dw) = res
    need_dx, need_dw = need_dx is not None, need_dw is not None
    zeros = lambda a: jnp.zeros(a.shape, a.dtype)  # noqa: E731
    bias = jnp.zeros((w.shape[0] if cfg.has_bias else 0,), jnp.float32)
    if isinstance(g, jax.custom_derivatives.SymbolicZero):
        return zeros(x), zeros(w), bias
    if cfg.relu:
        g = jnp.where(y > 0, g, 0.0)
    if need_dx and need_dw:
        dx, dw, db = _bwd_call(x, w, g, cfg)
    elif need_dx:
        dx, dw, db = _bwd_data_call(g, w, x.shape, cfg), zeros(w), bias
    else:
        dw, db = _bwd_weights_call(x, g, w.shape, cfg)
        dx = zeros(x)
    return dx, dw, (db if cfg.has_bias else bias)


_conv.defvjp(_conv_fwd, _conv_bwd, symbolic_zeros=True)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_t(x, w, out_spatial: tuple[int, ...], cfg: _Cfg):
    """Transposed convolution: backward-data of the forward conv (y -> x) that `cfg` describes."""
    shape = (x.shape[0], w.shape[1] * cfg.groups) + tuple(out_spatial)
    return _bwd_data_call(x, w, shape, cfg)


def _conv_t_fwd(x, w, out_spatial, cfg):
    return _conv_t(x, w, out_spatial, cfg), (x, w)


def _conv_t_bwd(out_spatial, cfg, res, g):
    x, w = res
    no_bias = jnp.zeros((0,), jnp.float32)
    dx = _fwd_call(g, w, no_bias, cfg, tuple(x.shape[2:]))
    dw, _ = _bwd_weights_call(g, x, w.shape, cfg)
    return dx, dw


_conv_t.defvjp(_conv_t_fwd, _conv_t_bwd)


def conv_nd(x, w, b, stride, padding, dilation, groups, *, relu=False):
    """y = conv(x, w) + b (optionally ReLU'd) on oneDNN, for already-normalised torch arguments.

    x: (N, C_in, *spatial) float32 with 1 to 3 spatial axes; w: (C_out, C_in/groups, *kernel);
    b: (C_out,) or None; stride, dilation: tuples of ints; padding: tuple of (lo, hi) pairs;
    groups: int. float32 only, CPU only: `jtorch._backend.conv_nd` decides when it runs.
    """
    n = x.ndim - 2
    cfg = _Cfg(
        tuple(int(s) for s in stride),
        tuple(int(d) for d in dilation),
        tuple(int(p[0]) for p in padding),
        tuple(int(p[1]) for p in padding),
        int(groups),
        b is not None,
        bool(relu),
        conv_channels_last(x.shape[1], w.shape[0]),
    )
    if len(cfg.stride) != n or len(cfg.pad_l) != n or len(cfg.dilation) != n:
        raise ValueError(
            f"conv_nd: stride {stride}, padding {padding} and dilation {dilation} must each "
            f"have {n} entries for an input of shape {tuple(x.shape)}"
        )
    bias = jnp.zeros((0,), jnp.float32) if b is None else jnp.asarray(b)
    return _conv(x, w, bias, cfg)


def conv_transpose_nd(x, w, b, stride, padding, output_padding, dilation, groups):
    """Transposed convolution on oneDNN's backward-data primitive, torch's conv_transpose semantics.

    x: (N, C_in, *spatial) float32; w: (C_in, C_out/groups, *kernel); b: (C_out,) or None;
    stride, padding, output_padding, dilation: tuples of ints; groups: int. Output size per axis
    (in − 1)·s − 2p + d·(k − 1) + output_padding + 1. float32 only, CPU only.
    """
    kernel = w.shape[2:]
    out = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, k, s, p, op, d in zip(
            x.shape[2:], kernel, stride, padding, output_padding, dilation
        )
    )
    # The forward conv out -> x pads p on the left and p − output_padding on the right.
    cfg = _Cfg(
        tuple(int(s) for s in stride),
        tuple(int(d) for d in dilation),
        tuple(int(p) for p in padding),
        tuple(int(p) - int(op) for p, op in zip(padding, output_padding)),
        int(groups),
        False,
    )
    y = _conv_t(x, w, out, cfg)
    if b is not None:
        y = y + jnp.asarray(b).reshape((1, -1) + (1,) * (x.ndim - 2))
    return y
