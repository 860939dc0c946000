"""Convolutions in torch layouts (NCL/NCHW/NCDHW inputs, OI... weights).

Each function checks and normalises torch's arguments here and computes with one
`lax.conv_general_dilated` whose dimension numbers keep torch's layouts, so no transposes are
added; the backend (`jtorch._backend.kernels`) swaps in oneDNN's primitives where the program is
lowered for the CPU.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jtorch._backend import kernels
from jtorch.nn.functional._utils import _ntuple

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def _batched(fn: str, x: jax.Array, n: int) -> tuple[jax.Array, bool]:
    """Add a batch axis to an unbatched (C, *spatial) input; reject any other rank."""
    if x.ndim == n + 1:
        return x[None], True
    if x.ndim != n + 2:
        raise ValueError(
            f"{fn}: `input` must have shape {_LAYOUT[n]} ({n + 2}-D) or unbatched "
            f"({n + 1}-D), got shape {tuple(x.shape)}"
        )
    return x, False


def _operands(
    fn: str, n: int, input: Any, weight: Any, groups: int, lead: str, per_group: str
) -> tuple[jax.Array, bool, jax.Array]:
    """Batched input, whether it was unbatched, and the weight, checked for rank and groups.

    The weight is (lead, per_group/groups, *kernel): (out_channels, in_channels/groups, ...)
    for a convolution, (in_channels, out_channels/groups, ...) for a transposed one.
    """
    x, unbatched = _batched(fn, jnp.asarray(input), n)
    w = jnp.asarray(weight)
    if w.ndim != n + 2:
        raise ValueError(
            f"{fn}: `weight` must have shape ({lead}, {per_group}/groups, *kernel) "
            f"({n + 2}-D), got shape {tuple(w.shape)}"
        )
    if groups <= 0 or w.shape[0] % groups:
        raise ValueError(
            f"{fn}: `groups`={groups} must be a positive divisor of {lead}={w.shape[0]}"
        )
    return x, unbatched, w


def _check_geometry(fn: str, kernel: tuple, **arguments: tuple) -> None:
    """Kernel sizes >= 1, `stride`/`dilation` >= 1, paddings >= 0, checked before any oneDNN call
    (which would fail with an opaque error, or divide by zero)."""
    if any(k < 1 for k in kernel):
        raise ValueError(f"{fn}: `weight` has a zero-size kernel {kernel}, expected sizes >= 1")
    for name, values in arguments.items():
        minimum = 1 if name in ("stride", "dilation") else 0
        if any(isinstance(v, bool) or not hasattr(type(v), "__index__") or v < minimum
               for v in values):  # fmt: skip
            raise ValueError(f"{fn}: `{name}` must be integers >= {minimum}, got {values!r}")


def _same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, int]]:
    """torch's padding='same': total d·(k−1), the odd element on the right."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads


def _conv(
    fn: str,
    n: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> jax.Array:
    x, unbatched, w = _operands(fn, n, input, weight, groups, "out_channels", "in_channels")
    if x.shape[1] != w.shape[1] * groups:
        raise ValueError(
            f"{fn}: `input` has {x.shape[1]} channels (shape {tuple(x.shape)}), expected "
            f"{w.shape[1] * groups} = weight.shape[1] ({w.shape[1]}) * groups ({groups})"
        )
    stride = _ntuple(stride, n, "stride")
    dilation = _ntuple(dilation, n, "dilation")
    kernel = tuple(w.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{fn}: `padding`='same' is not supported for strided convolutions "
                    f"(stride={stride}, expected all 1)"
                )
            pads = _same_padding(kernel, dilation)
        else:
            raise ValueError(
                f"{fn}: `padding` must be 'same', 'valid', an int or a tuple, got {padding!r}"
            )
    else:
        pads = [(p, p) for p in _ntuple(padding, n, "padding")]
    _check_geometry(fn, kernel, stride=stride, dilation=dilation, padding=tuple(p for p, _ in pads))
    for size, k, d, (lo, hi) in zip(x.shape[2:], kernel, dilation, pads):
        if size + lo + hi < d * (k - 1) + 1:
            raise ValueError(
                f"{fn}: kernel size {kernel} (dilation {dilation}) is larger than the padded "
                f"input of shape {tuple(x.shape)} with padding {pads}"
            )
    y = kernels.conv_nd(
        x, w.astype(x.dtype), bias, stride, pads, dilation, groups, portable=_xla_conv
    )
    return y[0] if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> jax.Array:
    """1-D cross-correlation: y[n, o] = b[o] + Σ_c,k w[o, c, k] · x[n, c, s·l + d·k − p].

    Shapes: input (N, C_in, L) or (C_in, L); weight (C_out, C_in/groups, K). `padding` may be an
    int, a 1-tuple, 'valid' or 'same' (torch.nn.functional.conv1d).
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> jax.Array:
    """2-D cross-correlation of (N, C_in, H, W) with weight (C_out, C_in/groups, kH, kW) plus bias.

    `padding` may be an int, a pair, 'valid' or 'same' (torch.nn.functional.conv2d).
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> jax.Array:
    """3-D cross-correlation of (N, C_in, D, H, W) with weight (C_out, C_in/groups, kD, kH, kW).

    `padding` may be an int, a triple, 'valid' or 'same' (torch.nn.functional.conv3d).
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(
    fn: str,
    n: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> jax.Array:
    x, unbatched, w = _operands(fn, n, input, weight, groups, "in_channels", "out_channels")
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"{fn}: `input` has {x.shape[1]} channels (shape {tuple(x.shape)}), expected "
            f"weight.shape[0]={w.shape[0]}"
        )
    stride = _ntuple(stride, n, "stride")
    padding = _ntuple(padding, n, "padding")
    output_padding = _ntuple(output_padding, n, "output_padding")
    dilation = _ntuple(dilation, n, "dilation")
    _check_geometry(
        fn, tuple(w.shape[2:]), stride=stride, dilation=dilation, padding=padding,
        output_padding=output_padding,
    )  # fmt: skip
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(
                f"{fn}: `output_padding`={output_padding} must be smaller than either stride "
                f"{stride} or dilation {dilation}"
            )
    w = w.astype(x.dtype)
    y = kernels.conv_transpose_nd(
        x, w, bias, stride, padding, output_padding, dilation, groups, portable=_xla_conv_transpose
    )
    return y[0] if unbatched else y


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> jax.Array:
    """Transposed 1-D convolution (the gradient of conv1d w.r.t. its input), plus bias.

    Shapes: input (N, C_in, L); weight (C_in, C_out/groups, K); output length
    (L − 1)·s − 2p + d·(K − 1) + output_padding + 1 (torch.nn.functional.conv_transpose1d).
    """
    return _conv_transpose(
        "conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
        dilation,
    )  # fmt: skip


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> jax.Array:
    """Transposed 2-D convolution of (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW).

    Output size per axis: (in − 1)·s − 2p + d·(k − 1) + output_padding + 1
    (torch.nn.functional.conv_transpose2d).
    """
    return _conv_transpose(
        "conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
        dilation,
    )  # fmt: skip


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> jax.Array:
    """Transposed 3-D convolution of (N, C_in, D, H, W) with weight (C_in, C_out/groups, k...).

    (torch.nn.functional.conv_transpose3d).
    """
    return _conv_transpose(
        "conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
        dilation,
    )  # fmt: skip


def _dimension_numbers(n: int) -> lax.ConvDimensionNumbers:
    sp = "DHW"[3 - n :]
    ones = (1,) * (n + 2)
    return lax.conv_dimension_numbers(ones, ones, ("NC" + sp, "OI" + sp, "NC" + sp))


def _xla_conv(x, w, b, stride, padding, dilation, groups, relu=False):
    """y = conv(x, w) + b (optionally ReLU'd) for normalised torch arguments: padding as (lo, hi)
    pairs, stride and dilation as tuples (the portable form of `kernels.conv_nd`)."""
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
    """Transposed convolution for normalised torch arguments (the portable form of
    `kernels.conv_transpose_nd`): a forward conv of the stride-dilated input with the
    rearranged, flipped weight."""
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
