"""Adamax: Adam with an infinity-norm second moment (torch.optim.Adamax).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import _check_adam_args
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.adamax import AdamaxState, adamax

__all__ = ["adamax", "Adamax", "AdamaxState"]


class Adamax(Optimizer):
    """torch.optim.Adamax: `Adamax(model.parameters(), lr=2e-3)`.

    State per parameter: `step`, `exp_avg`, `exp_inf`.
    """

    _transform_factory = staticmethod(adamax)
    _hyperparams = ("lr", "eps", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ):
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)
