"""Averaged SGD (torch.optim.ASGD).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import _check_nonneg
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.asgd import ASGDState, asgd

__all__ = ["asgd", "ASGD", "ASGDState"]


class ASGD(Optimizer):
    """torch.optim.ASGD: `ASGD(model.parameters(), lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6)`.

    State per parameter: `step`, `eta`, `mu`, `ax` (the running average of the parameters).
    """

    _transform_factory = staticmethod(asgd)
    _hyperparams = ("lr", "lambd", "alpha", "t0", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ):
        _check_nonneg(lr=lr, weight_decay=weight_decay)
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)
