"""Adagrad with torch's lr decay, initial accumulator and weight decay (torch.optim.Adagrad).

The facade class; the optax transformation is in `jtorch.optim.transforms`.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jtorch.optim.optimizer import Optimizer
from jtorch.optim.transforms.adagrad import AdagradState, _check_adagrad_args, adagrad

__all__ = ["adagrad", "Adagrad", "AdagradState"]


class Adagrad(Optimizer):
    """torch.optim.Adagrad: `Adagrad(model.parameters(), lr=1e-2)`.

    State per parameter: `step`, `sum`; like torch it exists from construction (step 0).
    """

    _transform_factory = staticmethod(adagrad)
    _hyperparams = ("lr", "lr_decay", "weight_decay", "eps")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ):
        _check_adagrad_args(lr, lr_decay, weight_decay, initial_accumulator_value, eps)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _state_to_torch(self, state: AdagradState, group: dict[str, Any]) -> dict[str, Any]:
        # torch creates Adagrad's state eagerly in __init__
        return {"step": jnp.asarray(state.step, jnp.float32), "sum": state.sum}
