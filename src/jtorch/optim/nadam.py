"""NAdam: Adam with Nesterov momentum and momentum decay (torch.optim.NAdam).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import (
    _check_adam_args,
    _check_nonneg,
)
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.nadam import NAdamState, nadam

__all__ = ["nadam", "NAdam", "NAdamState"]


class NAdam(Optimizer):
    """torch.optim.NAdam: `NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)`.

    `foreach`, `capturable` and `differentiable` are accepted and ignored (no meaning under XLA).
    """

    _transform_factory = staticmethod(nadam)
    _hyperparams = ("lr", "eps", "weight_decay", "momentum_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_nonneg(momentum_decay=momentum_decay)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)
