"""Pooling modules over jtorch.nn.functional.pooling."""

from __future__ import annotations

from typing import Any

import jax

from jtorch.nn import functional as F
from jtorch.nn.functional._utils import _single
from jtorch.nn.functional.pooling import _unpool_args, _window_args
from jtorch.nn.module import Module

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]


class _MaxPoolNd(Module):
    """Stores torch's max-pool options as given (stride defaults to kernel_size)."""

    _fn: Any = None
    _n = 0

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ):
        super().__init__()
        _window_args(type(self).__name__, type(self)._n, kernel_size, stride, padding, dilation)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Any) -> Any:
        return type(self)._fn(
            input, self.kernel_size, self.stride, self.padding, self.dilation,
            ceil_mode=self.ceil_mode, return_indices=self.return_indices,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L) (torch.nn.MaxPool1d)."""

    _fn = staticmethod(F.max_pool1d)
    _n = 1


class MaxPool2d(_MaxPoolNd):
    """Max over kH×kW windows of (N, C, H, W) (torch.nn.MaxPool2d)."""

    _fn = staticmethod(F.max_pool2d)
    _n = 2


class MaxPool3d(_MaxPoolNd):
    """Max over kD×kH×kW windows of (N, C, D, H, W) (torch.nn.MaxPool3d)."""

    _fn = staticmethod(F.max_pool3d)
    _n = 3


class _AvgPoolNd(Module):
    """Stores torch's average-pool options; stride defaults to kernel_size."""

    _fn: Any = None
    _n = 0

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):
        super().__init__()
        _window_args(type(self).__name__, type(self)._n, kernel_size, stride, padding)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Any) -> jax.Array:
        return type(self)._fn(
            input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, self.divisor_override,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of (N, C, L) (torch.nn.AvgPool1d; options stored as 1-tuples)."""

    _n = 1

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ):
        super().__init__(
            _single(kernel_size, "kernel_size"),
            _single(stride if stride is not None else kernel_size, "stride"),
            _single(padding, "padding"),
            ceil_mode,
            count_include_pad,
        )

    def forward(self, input: Any) -> jax.Array:
        return F.avg_pool1d(
            input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad,
        )  # fmt: skip


class AvgPool2d(_AvgPoolNd):
    """Mean over kH×kW windows of (N, C, H, W) (torch.nn.AvgPool2d)."""

    _fn = staticmethod(F.avg_pool2d)
    _n = 2


class AvgPool3d(_AvgPoolNd):
    """Mean over kD×kH×kW windows of (N, C, D, H, W) (torch.nn.AvgPool3d)."""

    _fn = staticmethod(F.avg_pool3d)
    _n = 3


class _AdaptivePoolNd(Module):
    """Stores the target `output_size` of an adaptive pool (None keeps an axis)."""

    _fn: Any = None

    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    """Mean over torch's adaptive bins to a fixed `output_size` (None keeps an axis)."""

    def forward(self, input: Any) -> jax.Array:
        return type(self)._fn(input, self.output_size)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Adaptive mean pooling of (N, C, L) to length output_size (torch.nn.AdaptiveAvgPool1d)."""

    _fn = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Adaptive mean pooling of (N, C, H, W) to output_size (torch.nn.AdaptiveAvgPool2d)."""

    _fn = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Adaptive mean pooling of (N, C, D, H, W) (torch.nn.AdaptiveAvgPool3d)."""

    _fn = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    """Max over torch's adaptive bins to a fixed `output_size`; optionally also the indices."""

    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of (N, C, L) (torch.nn.AdaptiveMaxPool1d)."""

    _fn = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of (N, C, H, W) (torch.nn.AdaptiveMaxPool2d)."""

    _fn = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling of (N, C, D, H, W) (torch.nn.AdaptiveMaxPool3d)."""

    _fn = staticmethod(F.adaptive_max_pool3d)


class _LPPoolNd(Module):
    """Power-average pooling (Σ_window x^p)^(1/p)."""

    _fn: Any = None

    _n = 0

    def __init__(
        self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
    ):
        super().__init__()
        _window_args(type(self).__name__, type(self)._n, kernel_size, stride)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input: Any) -> jax.Array:
        return type(self)._fn(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPoolNd):
    """Power-average pooling over (N, C, L) (torch.nn.LPPool1d)."""

    _fn = staticmethod(F.lp_pool1d)
    _n = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling over (N, C, H, W) (torch.nn.LPPool2d)."""

    _fn = staticmethod(F.lp_pool2d)
    _n = 2


class LPPool3d(_LPPoolNd):
    """Power-average pooling over (N, C, D, H, W) (torch.nn.LPPool3d)."""

    _fn = staticmethod(F.lp_pool3d)
    _n = 3


class _MaxUnpoolNd(Module):
    """Partial inverse of max pooling; options stored as n-tuples, as torch does."""

    _fn: Any = None
    _n = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _unpool_args(
            type(self).__name__, type(self)._n, kernel_size, stride, padding
        )

    def forward(self, input: Any, indices: Any, output_size: Any = None) -> jax.Array:
        return type(self)._fn(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Scatter (N, C, L) max-pool outputs back to their indices, zeros elsewhere
    (torch.nn.MaxUnpool1d)."""

    _fn = staticmethod(F.max_unpool1d)
    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Scatter (N, C, H, W) max-pool outputs back to their flat indices (torch.nn.MaxUnpool2d)."""

    _fn = staticmethod(F.max_unpool2d)
    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Scatter (N, C, D, H, W) max-pool outputs back to their flat indices
    (torch.nn.MaxUnpool3d)."""

    _fn = staticmethod(F.max_unpool3d)
    _n = 3
