"""RMSprop (torch.optim.RMSprop).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import (
    _check_nonneg,
)
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.rmsprop import RMSpropState, rmsprop

__all__ = ["rmsprop", "RMSprop", "RMSpropState"]


class RMSprop(Optimizer):
    """torch.optim.RMSprop: `RMSprop(model.parameters(), lr=0.01, alpha=0.99)`.

    `capturable`, `foreach` and `differentiable` are accepted and ignored (no meaning under XLA).
    """

    _transform_factory = staticmethod(rmsprop)
    _hyperparams = ("lr", "eps", "weight_decay", "momentum")  # alpha static (see rmsprop)

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        _check_nonneg(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(
            lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
            weight_decay=weight_decay, capturable=capturable, foreach=foreach,
            maximize=maximize, differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _state_to_torch(self, state: Any, group: dict[str, Any]) -> dict[str, Any] | None:
        entry = super()._state_to_torch(state, group)
        if entry is not None and not group["momentum"] > 0:
            entry.pop("momentum_buffer", None)  # torch keeps the buffer only with momentum
        return entry
