"""Rprop: resilient backpropagation (torch.optim.Rprop).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import _check_nonneg
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.rprop import RpropState, _check_etas, rprop

__all__ = ["rprop", "Rprop", "RpropState"]


class Rprop(Optimizer):
    """torch.optim.Rprop: `Rprop(model.parameters(), lr=0.01, etas=(0.5, 1.2))`.

    `capturable`, `foreach` and `differentiable` are accepted and ignored (no meaning under XLA).
    """

    _transform_factory = staticmethod(rprop)
    _hyperparams = ("lr",)

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        _check_nonneg(lr=lr)
        _check_etas(etas)
        defaults = dict(
            lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
            maximize=maximize, differentiable=differentiable, capturable=capturable,
        )  # fmt: skip
        super().__init__(params, defaults)
