"""Convolutions in torch layouts (NCL/NCHW/NCDHW inputs, OI... weights).

Each function checks and normalises torch's arguments here, then runs on oneDNN custom calls on
the CPU (`jtorch._ext`) or else on one `lax.conv_general_dilated` with dimension numbers that keep
torch's layouts (the XLA reference in `jtorch._ext.onednn`), so no transposes are added.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jtorch import _ext
from jtorch._ext.onednn import _xla_conv, _xla_conv_transpose
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


def _on_onednn(x: jax.Array, w: jax.Array) -> bool:
    """oneDNN (on the CPU) unless an operand is empty, which XLA handles and oneDNN refuses."""
    return _ext.use_onednn() and x.size > 0 and w.size > 0


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
    conv = _ext.conv_nd if _on_onednn(x, w) else _xla_conv  # CPU: oneDNN custom calls
    y = conv(x, w.astype(x.dtype), bias, stride, pads, dilation, groups)
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
    # CPU: oneDNN's backward-data primitive (jtorch._ext); otherwise XLA
    conv_t = _ext.conv_transpose_nd if _on_onednn(x, w) else _xla_conv_transpose
    y = conv_t(x, w.astype(x.dtype), bias, stride, padding, output_padding, dilation, groups)
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
