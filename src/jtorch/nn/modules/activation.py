"""Activation modules, thin shells over jtorch.nn.functional."""

from __future__ import annotations

from typing import Any

import jax

from jtorch.nn import functional as F
from jtorch.nn.module import Module

__all__ = ["ReLU"]


class ReLU(Module):
    """max(x, 0) (torch.nn.ReLU)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Any) -> jax.Array:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
