"""Loss modules: options in __init__, one-line forward calling jtorch.nn.functional."""

from __future__ import annotations

from typing import Any

import jax

from jtorch.nn import functional as F
from jtorch.nn.module import Module

__all__ = ["MSELoss"]


class _Loss(Module):
    """Stores `reduction` ('mean', 'sum' or 'none')."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction


class MSELoss(_Loss):
    """Mean squared error (torch.nn.MSELoss)."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.mse_loss(input, target, reduction=self.reduction)
