"""Adadelta (torch.optim.Adadelta).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.adadelta import AdadeltaState, _check_adadelta_args, adadelta

__all__ = ["adadelta", "Adadelta", "AdadeltaState"]


class Adadelta(Optimizer):
    """torch.optim.Adadelta: `Adadelta(model.parameters(), lr=1.0, rho=0.9)`.

    State per parameter: `step`, `square_avg`, `acc_delta`.
    """

    _transform_factory = staticmethod(adadelta)
    _hyperparams = ("lr", "rho", "eps", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        _check_adadelta_args(lr, rho, eps, weight_decay)
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)
