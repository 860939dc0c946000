"""Padding modules (ZeroPad2d, ConstantPad2d, ReflectionPad2d, ...) over F.pad."""

from __future__ import annotations

from typing import Any

import jax

from jtorch.nn import functional as F
from jtorch.nn.functional._utils import _ntuple
from jtorch.nn.module import Module

__all__ = [
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
]


class _PadNd(Module):
    """Pads the last n axes; `padding` is an int or a 2n-tuple (left, right, top, bottom, ...)."""

    _n: int = 0
    _mode: str = "constant"

    def __init__(self, padding: Any):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._n, "padding")

    def forward(self, input: Any) -> jax.Array:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Pads the last n axes with a constant `value`."""

    def __init__(self, padding: Any, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input: Any) -> jax.Array:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last axis with `value` (torch.nn.ConstantPad1d)."""

    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two axes with `value` (torch.nn.ConstantPad2d)."""

    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three axes with `value` (torch.nn.ConstantPad3d)."""

    _n = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last axis with zeros (torch.nn.ZeroPad1d)."""

    _n = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two axes with zeros (torch.nn.ZeroPad2d)."""

    _n = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three axes with zeros (torch.nn.ZeroPad3d)."""

    _n = 3


class ReflectionPad1d(_PadNd):
    """Mirrors the last axis without repeating the edge (torch.nn.ReflectionPad1d)."""

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirrors the last two axes without repeating the edge (torch.nn.ReflectionPad2d)."""

    _n, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirrors the last three axes (torch.nn.ReflectionPad3d)."""

    _n, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeats the edge of the last axis (torch.nn.ReplicationPad1d)."""

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeats the edges of the last two axes (torch.nn.ReplicationPad2d)."""

    _n, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeats the edges of the last three axes (torch.nn.ReplicationPad3d)."""

    _n, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Wraps the last axis around (torch.nn.CircularPad1d)."""

    _n, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wraps the last two axes around (torch.nn.CircularPad2d)."""

    _n, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Wraps the last three axes around (torch.nn.CircularPad3d)."""

    _n, _mode = 3, "circular"
