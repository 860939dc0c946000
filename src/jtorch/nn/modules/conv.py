"""Conv1d/2d/3d and ConvTranspose1d/2d/3d over jtorch.nn.functional.conv."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jtorch import _random
from jtorch.nn import functional as F
from jtorch.nn import init
from jtorch.nn.functional._utils import _ntuple
from jtorch.nn.module import Module, Parameter
from jtorch.nn.modules._args import check_int, check_ints

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution shares: argument checks, torch's parameters, init and repr.

    Weight shape (out, in/groups, *kernel), or (in, out/groups, *kernel) when transposed; torch's
    default init: kaiming_uniform(a=√5) for the weight, U(±1/√fan_in) for the bias.
    """

    _n: int = 0  # spatial axes
    _fn: Any = None  # the functional op (F.conv2d, F.conv_transpose2d, ...)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        transposed: bool,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__()
        n, name = self._n, type(self).__name__
        in_channels = check_int(name, "in_channels", in_channels, 0)
        out_channels = check_int(name, "out_channels", out_channels, 0)
        kernel_size = check_ints(name, "kernel_size", _ntuple(kernel_size, n, "kernel_size"), 1)
        stride = check_ints(name, "stride", _ntuple(stride, n, "stride"), 1)
        dilation = check_ints(name, "dilation", _ntuple(dilation, n, "dilation"), 1)
        output_padding = _ntuple(output_padding, n, "output_padding")
        output_padding = check_ints(name, "output_padding", output_padding, 0)
        if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
            raise ValueError(
                f"{name}: `output_padding`={output_padding} must be smaller than either stride "
                f"{stride} or dilation {dilation}"
            )
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: `groups` must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(
                f"{name}: `in_channels`={in_channels} must be divisible by groups={groups}"
            )
        if out_channels % groups:
            raise ValueError(
                f"{name}: `out_channels`={out_channels} must be divisible by groups={groups}"
            )
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"{name}: `padding` string must be 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(
                    f"{name}: `padding`='same' is not supported for strided convolutions "
                    f"(stride={stride}, expected all 1)"
                )
        else:
            padding = check_ints(name, "padding", _ntuple(padding, n, "padding"), 0)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: `padding_mode` must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # the argument F.pad takes for non-zero padding modes (last axis first)
        if isinstance(padding, str):
            rev = [0, 0] * n
            if padding == "same":
                for i, (d, k) in enumerate(zip(dilation, kernel_size)):
                    total = d * (k - 1)
                    j = n - 1 - i
                    rev[2 * j], rev[2 * j + 1] = total // 2, total - total // 2
            self._reversed_padding_repeated_twice = tuple(rev)
        else:
            self._reversed_padding_repeated_twice = tuple(
                p for p in reversed(padding) for _ in range(2)
            )
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        dtype = jnp.float32 if dtype is None else dtype
        self.weight = Parameter(
            init.kaiming_uniform(_random.next_key(rngs), shape, a=math.sqrt(5), dtype=dtype)
        )
        if bias:
            fan_in = shape[1] * math.prod(kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            self.bias = Parameter(
                init.uniform(_random.next_key(rngs), (out_channels,), -bound, bound, dtype)
            )
        else:
            self.register_parameter("bias", None)
        if device is not None:
            self.to(device)

    def _check_input(self, x: jax.Array) -> None:
        n = self._n
        if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != self.in_channels:
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[n]
            raise ValueError(
                f"{type(self).__name__}: expected input of shape {layout} ({n + 2}-D, or "
                f"{n + 1}-D unbatched) with C=in_channels={self.in_channels}, got shape "
                f"{tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        n = self._n
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d/2d/3d: padding_mode other than 'zeros' pads with F.pad, then a 'valid' conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, False,
            0, groups, bias, padding_mode, device, dtype, rngs=rngs,
        )  # fmt: skip

    def forward(self, input: Any) -> jax.Array:
        x = jnp.asarray(input)
        self._check_input(x)
        fn = type(self)._fn
        if self.padding_mode != "zeros":
            x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) (torch.nn.Conv1d); weight (C_out, C_in/groups, K)."""

    _n = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) (torch.nn.Conv2d); weight (C_out, C_in/groups, kH, kW).

    `rngs=` (keyword-only) draws the initial values from an `nnx.Rngs` instead of the global RNG.
    """

    _n = 2
    _fn = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W) (torch.nn.Conv3d)."""

    _n = 3
    _fn = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """ConvTranspose1d/2d/3d: weight (C_in, C_out/groups, *kernel); only padding_mode='zeros'."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
        *,
        rngs: nnx.Rngs | None = None,
    ):
        if padding_mode != "zeros":
            raise ValueError(
                f'{type(self).__name__}: only "zeros" `padding_mode` is supported, '
                f"got {padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(
                f"{type(self).__name__}: `padding` must be an int or a tuple, got {padding!r}"
            )
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, True,
            output_padding, groups, bias, padding_mode, device, dtype, rngs=rngs,
        )  # fmt: skip

    def _output_padding(self, x: jax.Array, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = tuple(output_size)
        if len(output_size) == x.ndim:
            output_size = output_size[-n:]
        if len(output_size) != n:
            raise ValueError(
                f"{type(self).__name__}: `output_size` must have {n} or {x.ndim} elements, "
                f"got {output_size}"
            )
        mins = [
            (size - 1) * s - 2 * p + d * (k - 1) + 1
            for size, s, p, d, k in zip(
                x.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size
            )
        ]
        maxs = [m + s - 1 for m, s in zip(mins, self.stride)]
        if any(not lo <= o <= hi for o, lo, hi in zip(output_size, mins, maxs)):
            raise ValueError(
                f"{type(self).__name__}: requested `output_size` {list(output_size)}, but valid "
                f"sizes range from {mins} to {maxs} (for an input of {tuple(x.shape[-n:])})"
            )
        return tuple(o - m for o, m in zip(output_size, mins))

    def forward(self, input: Any, output_size: Any = None) -> jax.Array:
        x = jnp.asarray(input)
        self._check_input(x)
        output_padding = self._output_padding(x, output_size)
        return type(self)._fn(
            x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
            self.dilation,
        )  # fmt: skip


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (torch.nn.ConvTranspose1d); weight (C_in, C_out/groups, K)."""

    _n = 1
    _fn = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (torch.nn.ConvTranspose2d); weight (C_in, C_out/g, kH, kW)."""

    _n = 2
    _fn = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution (torch.nn.ConvTranspose3d)."""

    _n = 3
    _fn = staticmethod(F.conv_transpose3d)
