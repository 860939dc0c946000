"""oneDNN convolutions on the CPU as XLA FFI custom calls, differentiable and jit/vmap-safe.

The C++ side (csrc/onednn_conv.cc, built into `_onednn_conv*.so` when oneDNN is available at
install time) registers FFI targets for forward (+ bias, + fused ReLU), backward-data,
backward-weights (+ bias gradient) and both backward passes in one call, in torch's shapes
(NC..., OI...); the same library holds BatchNorm's channel sums (`jtorch._ext.channel_stats`).
Here the convolutions are wrapped in `jax.custom_vjp`s whose backward passes call the backward
primitives.

Environment:
- `JTORCH_CPU_CONV=xla` turns the oneDNN path off (`use_onednn()` is then False).
- `JTORCH_ONEDNN_THREADS=<n>` sets oneDNN's thread count (default: the CPUs this process may
  run on, the size of XLA's CPU intra-op pool).
- `JTORCH_ONEDNN_BLOCKED`: layouts inside the primitives. 0: torch's plain layouts; 1: oneDNN
  picks its blocked layouts, data are reordered at the boundary; 2 (default): a fixed rule,
  plain for strided convolutions of inputs with fewer than 4 channels, blocked otherwise;
  3: measured, the first call of each convolution shape times both and keeps the faster
  (neither wins everywhere: LeNet's 1-channel 5×5 conv is ~30× faster blocked, AlexNet's
  1-channel 11×11/4 conv ~8× faster plain). The default is deterministic: a measured choice
  can differ between runs, and so would the rounding of the results.
- `JTORCH_ONEDNN_LAYOUT`: how XLA stores the activations the convolutions read and write.
  `auto` (default): channels-last for convolutions whose input and output channels are
  multiples of 16 (`channels_last_activations`), torch-plain otherwise; `plain` or
  `channels_last` for every convolution. Channels-last arrays keep their (N, C, *spatial)
  shape: the FFI calls declare the layout and XLA carries it through the elementwise ops
  between convolutions, so the blocked-layout reorders `JTORCH_ONEDNN_BLOCKED` describes
  (about 8% of a ResNet-18 step) disappear.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata as md
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    "available",
    "use_onednn",
    "load_error",
    "conv_nd",
    "conv_transpose_nd",
]

_TARGETS = (
    "onednn_conv_fwd",
    "onednn_conv_bwd_data",
    "onednn_conv_bwd_weights",
    "onednn_conv_bwd",
    "channel_moments",  # csrc/channel_stats.cc, see jtorch._ext.channel_stats
    "channel_grad_sums",
)
_state: dict = {}


def _preload_dnnl() -> None:
    """Load libdnnl.so.3 from the `onednn-cpu-gomp` wheel globally, so the extension links."""
    try:
        files = md.distribution("onednn-cpu-gomp").files or []
    except md.PackageNotFoundError:
        return  # maybe on the loader's path (JTORCH_ONEDNN_ROOT builds, system installs)
    for f in files:
        if f.name == "libdnnl.so.3":
            path = md.distribution("onednn-cpu-gomp").locate_file(f)
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            return


def _load() -> ctypes.CDLL | None:
    """Load the extension and register its FFI targets once; remember why if it fails."""
    if "lib" in _state:
        return _state["lib"]
    lib = None
    try:
        found = sorted(Path(__file__).parent.glob("_onednn_conv*.so"))
        if not found:
            raise ImportError("the extension _onednn_conv was not built")
        _preload_dnnl()
        lib = ctypes.CDLL(str(found[0]))
        for name in _TARGETS:
            fn = getattr(lib, f"jtorch_{name}")
            jax.ffi.register_ffi_target(f"jtorch_{name}", jax.ffi.pycapsule(fn), platform="cpu")
        threads = int(os.environ.get("JTORCH_ONEDNN_THREADS", "0")) or _cpu_count()
        lib.jtorch_onednn_set_threads(threads)
        lib.jtorch_onednn_set_blocked(int(os.environ.get("JTORCH_ONEDNN_BLOCKED", "2")))
    except (OSError, ImportError, AttributeError, ValueError) as err:
        _state["error"] = f"{type(err).__name__}: {err}"
        lib = None
    _state["lib"] = lib
    return lib


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def available() -> bool:
    """True when the oneDNN extension is built and its FFI targets are registered."""
    return _load() is not None


def load_error() -> str | None:
    """Why the extension did not load (None when it did)."""
    _load()
    return _state.get("error")


def _expected() -> bool:
    """Whether an install here should have built the extension (Linux on x86-64)."""
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def use_onednn() -> bool:
    """Dispatch policy: CPU backend, extension loaded, and `JTORCH_CPU_CONV` is not 'xla'.

    Warns once when the extension was expected on this platform but did not load.
    """
    if os.environ.get("JTORCH_CPU_CONV", "").lower() == "xla":
        return False
    if jax.default_backend() != "cpu":
        return False
    if available():
        return True
    if _expected() and not _state.get("warned"):
        _state["warned"] = True
        warnings.warn(
            f"jtorch: oneDNN convolutions unavailable ({_state.get('error')}); "
            "using XLA's convolution on the CPU (set JTORCH_CPU_CONV=xla to silence this)",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


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


def channels_last_layout(ndim: int) -> tuple[int, ...]:
    """Axis order (major to minor) that stores (N, C, *spatial) as (N, *spatial, C)."""
    return (0,) + tuple(range(2, ndim)) + (1,)


def channels_last_activations(channels: int) -> bool:
    """Whether the oneDNN convolutions keep activations of `channels` channels channels-last
    (`JTORCH_ONEDNN_LAYOUT` = auto (default), plain or channels_last).

    Channels-last needs no reorders at all: oneDNN's kernels read and write it directly and XLA
    keeps the BatchNorm/ReLU/add between convolutions in it. Its kernels want whole 16-channel
    vectors, so `auto` uses it for multiples of 16 channels (LeNet's 6-channel layer stays
    plain, with blocked primitives)."""
    mode = _layout_mode()
    if mode != "auto":
        return mode == "channels_last"
    return channels % 16 == 0


def _layout_mode() -> str:
    mode = os.environ.get("JTORCH_ONEDNN_LAYOUT", "auto")
    if mode not in ("auto", "plain", "channels_last"):
        raise ValueError(
            f"JTORCH_ONEDNN_LAYOUT={mode!r}: expected 'auto', 'plain' or 'channels_last'"
        )
    return mode


def _channels_last(c_in: int, c_out: int) -> bool:
    """Layout policy of one convolution: channels-last when both its input and its output are.
    A network's 1-3 channel image stays plain: on it the blocked primitives (plus one copy of
    their output into channels-last) beat the channels-last kernels (ResNet-18's stem)."""
    if _layout_mode() != "auto":
        return channels_last_activations(c_out)
    return channels_last_activations(c_in) and channels_last_activations(c_out)


def _is_f32(*arrays) -> bool:
    return all(a is None or jnp.asarray(a).dtype == jnp.float32 for a in arrays)


def conv_nd(x, w, b, stride, padding, dilation, groups, *, relu=False):
    """y = conv(x, w) + b (optionally ReLU'd) on oneDNN, for already-normalised torch arguments.

    x: (N, C_in, *spatial) float32 with 1 to 3 spatial axes; w: (C_out, C_in/groups, *kernel);
    b: (C_out,) or None; stride, dilation: tuples of ints; padding: tuple of (lo, hi) pairs;
    groups: int. Inputs that are not all float32 go to `lax.conv_general_dilated`.
    """
    x, w = jnp.asarray(x), jnp.asarray(w)
    n = x.ndim - 2
    if not _is_f32(x, w, b) or not available():
        return _xla_conv(x, w, b, stride, padding, dilation, groups, relu)
    cfg = _Cfg(
        tuple(int(s) for s in stride),
        tuple(int(d) for d in dilation),
        tuple(int(p[0]) for p in padding),
        tuple(int(p[1]) for p in padding),
        int(groups),
        b is not None,
        bool(relu),
        _channels_last(x.shape[1], w.shape[0]),
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
    (in − 1)·s − 2p + d·(k − 1) + output_padding + 1. Non-float32 inputs go to XLA.
    """
    x, w = jnp.asarray(x), jnp.asarray(w)
    if not _is_f32(x, w, b) or not available():
        return _xla_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups)
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


def _dimension_numbers(n: int) -> lax.ConvDimensionNumbers:
    sp = "DHW"[3 - n :]
    ones = (1,) * (n + 2)
    return lax.conv_dimension_numbers(ones, ones, ("NC" + sp, "OI" + sp, "NC" + sp))


def _xla_conv(x, w, b, stride, padding, dilation, groups, relu=False):
    """`conv_nd` on XLA (same arguments): its reference, and F.conv* when oneDNN is not used."""
    n = x.ndim - 2
    y = lax.conv_general_dilated(
        x,
        w.astype(x.dtype),
        window_strides=tuple(stride),
        padding=[tuple(p) for p in padding],
        rhs_dilation=tuple(dilation),
        dimension_numbers=_dimension_numbers(n),
        feature_group_count=groups,
    )
    if b is not None:
        y = y + jnp.asarray(b).astype(y.dtype).reshape((1, -1) + (1,) * n)
    return jnp.maximum(y, 0) if relu else y


def _xla_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups):
    """`conv_transpose_nd` on XLA (same arguments): its reference, and F.conv_transpose* when
    oneDNN is not used. A forward conv of the stride-dilated input with the rearranged weight.
    """
    n = x.ndim - 2
    kernel = w.shape[2:]
    cin, cout_g = w.shape[0], w.shape[1]
    # (in, out/g, k...) -> (out, in/g, k...), kernel flipped: the transpose of a forward conv
    w = w.reshape((groups, cin // groups, cout_g) + kernel)
    w = jnp.swapaxes(w, 1, 2).reshape((groups * cout_g, cin // groups) + kernel)
    w = jnp.flip(w, axis=tuple(range(2, n + 2)))
    pads = [
        (d * (k - 1) - p, d * (k - 1) - p + op)
        for k, d, p, op in zip(kernel, dilation, padding, output_padding)
    ]
    y = lax.conv_general_dilated(
        x,
        w.astype(x.dtype),
        window_strides=(1,) * n,
        padding=pads,
        lhs_dilation=tuple(stride),
        rhs_dilation=tuple(dilation),
        dimension_numbers=_dimension_numbers(n),
        feature_group_count=groups,
    )
    if b is not None:
        y = y + jnp.asarray(b).astype(y.dtype).reshape((1, -1) + (1,) * n)
    return y
