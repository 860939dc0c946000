"""RAdam: Adam with variance rectification (torch.optim.RAdam).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import (
    _check_adam_args,
)
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.radam import RAdamState, radam

__all__ = ["radam", "RAdam", "RAdamState"]


class RAdam(Optimizer):
    """torch.optim.RAdam: `RAdam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))`.

    `foreach`, `capturable` and `differentiable` are accepted and ignored (no meaning under XLA).
    """

    _transform_factory = staticmethod(radam)
    _hyperparams = ("lr", "eps", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
            foreach=foreach, capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)
