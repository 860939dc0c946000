"""Adam with torch's L2 or decoupled weight decay, AMSGrad and maximize (torch.optim.Adam).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

from jtorch.optim._common import (
    _check_adam_args,
)
from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.adam import AdamState, adam

__all__ = ["adam", "Adam", "AdamState"]


class Adam(Optimizer):
    """torch.optim.Adam: `Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))`.

    State per parameter: `step`, `exp_avg`, `exp_avg_sq` (+ `max_exp_avg_sq` with amsgrad).
    """

    _transform_factory = staticmethod(adam)
    _hyperparams = ("lr", "eps", "weight_decay")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ):
        _check_adam_args(lr, betas, eps, weight_decay)
        if not all(isinstance(b, float) for b in betas):
            raise ValueError("betas must be either both floats or both Tensors")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)
